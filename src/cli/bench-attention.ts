/**
 * `tritwise bench attention` — the attention kernels side by side (eval/attention-bench.ts):
 * f32 vs popcount Q·Kᵀ scoring, flash-f32 vs ternary and top-k attention, decode and prefill,
 * over sequence lengths × head dims × batch sizes. Prints a table (or `--json`:
 * {results: [{name, seq, heads, head_dim, batch, mode, median_ms, …}], …}) and writes `-o`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { WasmBackend } from '../backend/wasm/wasm-backend.js';
import { TritwiseError } from '../errors.js';
import { benchAttention, type AttentionBenchPhase } from '../eval/attention-bench.js';
import { fixed, printJson, printTable, writeJsonFile } from './output.js';

function list(s: string): number[] {
  const v = s.split(',').map(Number);
  if (!v.every((n) => Number.isInteger(n) && n > 0)) throw new InvalidArgumentError(`expected positive integers such as 512,1024, got "${s}"`);
  return v;
}

function phases(s: string): AttentionBenchPhase[] {
  const v = s.split(',');
  if (!v.every((p) => p === 'decode' || p === 'prefill')) throw new InvalidArgumentError(`expected decode and/or prefill, got "${s}"`);
  return v as AttentionBenchPhase[];
}

interface Flags {
  seq?: number[];
  headDim?: number[];
  batch?: number[];
  prefillBatch?: number[];
  heads?: number;
  phase?: AttentionBenchPhase[];
  topk?: number[];
  quick?: boolean;
  json?: boolean;
  out?: string;
}

/** Adds `attention` under the existing `bench` command. */
export function registerBenchAttention(program: Command): void {
  const bench = program.commands.find((c) => c.name() === 'bench');
  if (!bench) throw new TritwiseError('E_ARG', 'no bench command to extend', { where: 'registerBenchAttention', expected: 'registerBench first', got: 'none' });
  bench
    .command('attention')
    .description('attention kernels (wasm, 1 thread): f32 vs popcount Q·Kᵀ scores; flash-f32 vs ternary and top-k attention; decode and prefill')
    .option('--seq <list>', 'sequence lengths (default 512,1024,2048,4096)', list)
    .option('--head-dim <list>', 'head dims (default 64,128)', list)
    .option('--batch <list>', 'batch sizes of decode (default 1,8)', list)
    .option('--prefill-batch <list>', 'batch sizes of prefill (default 1: prefill is O(seq²))', list)
    .option('--heads <n>', 'query heads (= kv heads; default 16)', (s) => list(s)[0]!)
    .option('--phase <list>', 'decode,prefill (default both)', phases)
    .option('--topk <list>', 'k of the top-k hybrid (default 32)', list)
    .option('--quick', 'a small grid: seq 512,1024, head dim 64, batch 1, decode')
    .option('--json', 'print the report as JSON')
    .option('-o, --out <file>', 'write the JSON report here')
    .action(async (local: Flags, cmd: Command) => {
      // `bench` itself defines --batch, --heads, --quick, --json and -o, and commander gives
      // them to it wherever they stand on the line: take each from here or from there
      const parent = (cmd.parent?.opts() ?? {}) as Partial<Flags>;
      const o: Flags = { ...local };
      for (const k of ['batch', 'heads', 'quick', 'json', 'out'] as const) if (o[k] === undefined && parent[k] !== undefined) (o as Record<string, unknown>)[k] = parent[k];
      const be = await WasmBackend.create({ threads: 1 });
      try {
        const note = o.json ? undefined : (s: string) => process.stderr.write(`  ${s}\n`);
        const rep = await benchAttention(be, {
          seqs: o.seq ?? (o.quick ? [512, 1024] : undefined),
          headDims: o.headDim ?? (o.quick ? [64] : undefined),
          batches: o.batch ?? (o.quick ? [1] : undefined),
          prefillBatches: o.prefillBatch,
          heads: o.heads,
          phases: o.phase ?? (o.quick ? ['decode'] : undefined),
          topk: o.topk,
          onStep: note,
        });
        if (o.out) writeJsonFile(o.out, rep);
        if (o.json) return printJson(rep);
        const m = rep.machine;
        process.stdout.write(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, 1 thread, load ${fixed(Number(m.loadavg_1m_at_end), 2)}\n`);
        printTable(
          ['phase', 'seq', 'head dim', 'batch', 'kernel', 'median ms', '× f32 scores', '× flash-f32'],
          rep.results.map((r) => [r.mode, r.seq, r.head_dim, r.batch, r.name, fixed(r.median_ms), r.speedup_vs_f32_scores === undefined ? '' : fixed(r.speedup_vs_f32_scores, 2), r.speedup_vs_flash === undefined ? '' : fixed(r.speedup_vs_flash, 2)]),
        );
        for (const b of rep.k_cache_bytes) process.stdout.write(`ternary K cache, head dim ${b.head_dim}: ${b.ternary_bytes_per_vector} B vs ${b.f32_bytes_per_vector} B per vector (${fixed(b.fraction * 100, 2)}% = 1/${fixed(1 / b.fraction, 1)})\n`);
      } finally {
        await be.dispose();
      }
    });
}
