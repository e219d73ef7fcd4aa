/**
 * `tritwise bench attention` — the attention kernels side by side (eval/attention-bench.ts):
 * f32 vs popcount Q·Kᵀ scoring, flash-f32 vs ternary and top-k attention, decode and prefill,
 * over sequence lengths × head dims × batch sizes. Prints a table (or `--json`:
 * {results: [{name, seq, heads, head_dim, batch, mode, median_ms, …}], …}) and writes `-o`.
 *
 * `tritwise bench attention-accuracy` — cosine of each mode's attention output against exact
 * attention and recall@k of the popcount top-k, inside real forward passes (eval/attention-
 * accuracy.ts): a checkpoint on text chunks, and/or the BitNet-0.7B-shaped random ternary model.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { WasmBackend } from '../backend/wasm/wasm-backend.js';
import { TritwiseError } from '../errors.js';
import { measureAttentionAccuracy, type AccuracyReport } from '../eval/attention-accuracy.js';
import { benchAttention, type AttentionBenchPhase } from '../eval/attention-bench.js';
import { machineInfo } from '../eval/benchmark.js';
import { BITNET_07B } from '../eval/model-bench.js';
import { loadCheckpoint } from '../io/checkpoint.js';
import { defaultConfig } from '../nn/llama-config.js';
import { randomTernaryWeights } from '../nn/random-model.js';
import { intArg, readText } from './model-options.js';
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
  hybrid?: string[];
  quick?: boolean;
  json?: boolean;
  out?: string;
}

/** Adds `attention` under the existing `bench` command. */
export function registerBenchAttention(program: Command): void {
  const bench = program.commands.find((c) => c.name() === 'bench');
  if (!bench) throw new TritwiseError('E_ARG', 'no bench command to extend', { where: 'registerBenchAttention', expected: 'registerBench first', got: 'none' });
  addAccuracyCommand(bench);
  bench
    .command('attention')
    .description('attention kernels (wasm, 1 thread): f32 vs popcount Q·Kᵀ scores; flash-f32 vs ternary and top-k attention; decode and prefill')
    .option('--seq <list>', 'sequence lengths (default 512,1024,2048,4096)', list)
    .option('--head-dim <list>', 'head dims (default 64,128)', list)
    .option('--batch <list>', 'batch sizes of decode (default 1,8)', list)
    .option('--prefill-batch <list>', 'batch sizes of prefill (default 1: prefill is O(seq²))', list)
    .option('--heads <n>', 'query heads (= kv heads; default 16)', (s) => list(s)[0]!)
    .option('--phase <list>', 'decode,prefill (default both)', phases)
    .option('--hybrid <modes>', 'top-k hybrid modes, comma-separated (default topk:32,topk:32/t2/r8)', (v: string) => v.split(','))
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
          hybrids: o.hybrid,
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

interface AccuracyFlags {
  checkpoint?: string;
  tokenizer?: string;
  text?: string;
  ctx: number;
  chunks: number;
  random07b?: boolean;
  randomTokens: number;
  randomLayers?: number;
  modes: string;
  recall: string;
  json?: boolean;
  out?: string;
}

function addAccuracyCommand(bench: Command): void {
  bench
    .command('attention-accuracy')
    .description('cosine vs exact attention and recall@k of popcount top-k, inside forward passes of a checkpoint and/or the 0.7B-shaped random model')
    .option('--checkpoint <file>', 'a checkpoint (e.g. stories260K.bin) scored on --text (not --model: that is a flag of bench itself)')
    .option('--tokenizer <file>', 'its tokenizer (llama2.c checkpoints)')
    .option('--text <file>', 'text for --checkpoint: chunks of --ctx tokens, BOS first (the perplexity chunk protocol)')
    .option('--ctx <n>', 'tokens per chunk', intArg, 512)
    .option('--chunks <n>', 'chunks of the text', intArg, 4)
    .option('--random-07b', 'also the BitNet-0.7B-shaped random ternary model (dim 1536, 16 heads of 96)')
    .option('--random-tokens <n>', 'tokens through the random model', intArg, 256)
    .option('--random-layers <n>', 'layers of the random model (default 24)', intArg)
    .option('--modes <list>', 'modes compared with exact', 'flash,ternary,ternary/t2,topk:16,topk:32,topk:64,topk:32/t2/r8')
    .option('--recall <list>', 'k of recall@k', '16,32,64')
    .option('--json', 'print the report as JSON')
    .option('-o, --out <file>', 'write the JSON report here')
    .action(async (local: AccuracyFlags, cmd: Command) => {
      const parent = (cmd.parent?.opts() ?? {}) as Partial<AccuracyFlags>;
      const o: AccuracyFlags = { ...local, json: local.json ?? parent.json, out: local.out ?? parent.out };
      if (!o.checkpoint && !o.random07b) throw new TritwiseError('E_ARG', 'nothing to measure', { where: 'bench attention-accuracy', expected: '--checkpoint <file> --text <file> and/or --random-07b', got: 'neither' });
      const modes = o.modes.split(',');
      const recallK = list(o.recall);
      const be = await WasmBackend.create({ threads: 2 });
      const note = o.json ? undefined : (s: string) => process.stderr.write(`  ${s}\n`);
      const reports: AccuracyReport[] = [];
      try {
        if (o.checkpoint) {
          if (!o.text) throw new TritwiseError('E_ARG', '--checkpoint needs --text', { where: 'bench attention-accuracy', expected: '--text <file>', got: 'none' });
          const ck = loadCheckpoint(o.checkpoint, { tokenizer: o.tokenizer });
          if (!ck.tokenizer) throw new TritwiseError('E_ARG', 'the model has no tokenizer', { where: o.checkpoint, expected: '--tokenizer <file>', got: 'none' });
          const ids = ck.tokenizer.encode(readText(o.text, 'text'));
          const ctx = Math.min(o.ctx, ck.config.seqLen);
          const seqs: number[][] = [];
          for (let c = 0; c < o.chunks && (c + 1) * ctx <= ids.length; c++) seqs.push([ck.tokenizer.bos, ...ids.slice(c * ctx + 1, (c + 1) * ctx)]);
          reports.push(await measureAttentionAccuracy(o.checkpoint, ck, seqs, { modes, recallK, backend: be, onStep: note }));
        }
        if (o.random07b) {
          const config = defaultConfig({ dim: BITNET_07B.dim, hiddenDim: BITNET_07B.ffn, nLayers: o.randomLayers ?? BITNET_07B.layers, nHeads: BITNET_07B.heads, vocabSize: BITNET_07B.vocab, seqLen: o.randomTokens });
          const ids = Array.from({ length: o.randomTokens }, (_, i) => (i === 0 ? 1 : 3 + ((i * 7919 + 104729) % (config.vocabSize - 3))));
          reports.push(await measureAttentionAccuracy(`random BitNet-0.7B shape (${config.nLayers} layers, seed 1)`, { config, weights: randomTernaryWeights(config, 1) }, [ids], { modes, recallK, backend: be, onStep: note }));
        }
      } finally {
        await be.dispose();
      }
      const rep = { machine: machineInfo(), reports };
      if (o.out) writeJsonFile(o.out, rep);
      if (o.json) return printJson(rep);
      for (const r of reports) {
        process.stdout.write(`${r.model}: ${r.sequences} sequences, ${r.tokens} tokens\n`);
        printTable(['mode', 'cosine mean', 'cosine min', 'head vectors'], r.modes.map((m) => [m.name, fixed(m.cosine_mean, 5), fixed(m.cosine_min, 4), m.vectors]));
        printTable(['k', 'trit depth', 'recall@k (popcount top-k ∩ exact top-k)', 'samples'], r.recall.map((x) => [x.k, x.depth, fixed(x.recall_mean, 4), x.samples]));
      }
    });
}
