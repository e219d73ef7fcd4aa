/**
 * `tritwise bench sparsity` — GEMV time and bytes of every ternary layout at a sweep of zero
 * fractions (src/sparse/sparsity-bench.ts), with ratios against dense f32 and dense planes, where
 * the automatic choice switches, and an SVG plot. Registered under `tritwise bench`.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { WasmBackend } from '../backend/wasm/wasm-backend.js';
import { writeFileAtomic, writeAll } from '../io/atomic-write.js';
import { ensureCostModel, installCachedCostModel } from '../sparse/cost-cache.js';
import { DEFAULT_SPARSITIES, benchSparsity } from '../sparse/sparsity-bench.js';
import { benchPrunedModels } from '../sparse/pruned-model-bench.js';
import { machineInfo } from '../eval/benchmark.js';
import { loadavg } from 'node:os';
import { sparsityChartSvg } from '../sparse/sparsity-chart.js';
import { fixed, formatBytes, printJson, printTable, writeJsonFile } from './output.js';

function fractions(s: string): number[] {
  const v = s.split(',').map(Number);
  if (!v.length || !v.every((n) => Number.isFinite(n) && n >= 0 && n < 1)) throw new InvalidArgumentError(`expected fractions in [0, 1) such as 0,0.9,0.99, got "${s}"`);
  return v;
}

function shape(s: string): [number, number] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m || Number(m[1]) < 1 || Number(m[2]) < 1) throw new InvalidArgumentError(`expected ROWSxCOLS such as 4096x11008, got "${s}"`);
  return [Number(m[1]), Number(m[2])];
}

function posInt(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n < 1) throw new InvalidArgumentError(`expected a positive integer, got "${s}"`);
  return n;
}

interface Opts {
  shape: [number, number];
  sparsity: number[];
  threads?: number;
  minTime: number;
  rounds: number;
  json?: boolean;
  out?: string;
  svg?: string;
  calibrate?: boolean;
  models?: boolean;
  stories?: string;
  decode?: number;
}

export function registerBenchSparsity(program: Command): void {
  const bench = program.commands.find((c) => c.name() === 'bench') ?? program.command('bench');
  // `bench` has its own --shape/--threads/--json/…: options after `sparsity` must be this command's
  program.enablePositionalOptions();
  bench.enablePositionalOptions();
  bench
    .command('sparsity')
    .description('ternary×f32 GEMV per layout (planes, planes-skip, block-sparse, csr, auto) at 0 … 99.9 % zeros vs dense f32')
    .option('--shape <RxC>', 'matrix shape', shape, [4096, 11008] as [number, number])
    .option('--sparsity <list>', 'zero fractions', fractions, DEFAULT_SPARSITIES)
    .option('--threads <n>', 'threads (default: one per core)', posInt)
    .option('--min-time <ms>', 'minimum timed ms per case and sparsity', posInt, 300)
    .option('--rounds <n>', 'interleaved rounds per sparsity (median of the round medians)', posInt, 9)
    .option('--json', 'print the report as JSON')
    .option('-o, --out <file>', 'also write the JSON report to a file')
    .option('--svg <file>', 'also write the SVG plot')
    .option('--models', 'instead: model bytes and decode tokens/s at 0/50/90/99 % pruning (the 0.7B shape, and stories260K with --stories)')
    .option('--stories <file>', 'models: the stories260K.bin checkpoint')
    .option('--decode <n>', 'models: decoded tokens per run (stories260K; the 0.7B shape uses at most 16)', posInt)
    .option('--calibrate', 'first run the cost-model calibration and cache it (~/.cache/tritwise), replacing any cached model')
    .action(async (o: Opts) => {
      const be = await WasmBackend.create({ threads: o.threads });
      try {
        const note = (s: string) => process.stderr.write(`  ${s}\n`);
        const d = be.describe();
        let cost: string;
        if (o.calibrate) {
          const c = await ensureCostModel(be, { recalibrate: true, onStep: o.json ? undefined : note });
          cost = `calibrated now, cached in ${c.path}`;
        } else cost = installCachedCostModel(Number(d.threads), String(d.simd));
        if (o.models) {
          await be.dispose();
          const res = await benchPrunedModels({ stories: o.stories ? { checkpoint: o.stories } : undefined, big: true, levels: o.sparsity === DEFAULT_SPARSITIES ? undefined : o.sparsity, threads: o.threads, decode: o.decode, onStep: o.json ? undefined : note });
          const rep = { machine: { ...machineInfo({ threads: res[0]?.threads }), load_avg: loadavg(), cost_model: cost }, results: res };
          if (o.out) writeJsonFile(o.out, rep);
          if (o.json) return printJson(rep);
          printTable(
            ['model', 'zeros', 'layouts', 'chosen', 'model bytes', 'ternary layers', '× smaller than f32 (layers)', 'decode tok/s'],
            res.map((r) => [r.model, `${fixed(r.sparsity * 100, 1)} %`, r.layouts, Object.entries(r.chosen).map(([k, v]) => `${k} ×${v}`).join(', '), formatBytes(r.bytes), formatBytes(r.ternary_bytes), fixed(r.ternary_f32_bytes / r.ternary_bytes, 1), fixed(r.decode_tok_s, 1)]),
          );
          return;
        }
        const rep = await benchSparsity(be, { rows: o.shape[0], cols: o.shape[1], sparsities: o.sparsity, minTimeMs: o.minTime, rounds: o.rounds, onStep: o.json ? undefined : note });
        rep.machine.cost_model = cost;
        if (o.out) writeJsonFile(o.out, rep);
        if (o.svg) {
          const svg = new TextEncoder().encode(sparsityChartSvg(rep));
          writeFileAtomic(o.svg, (fd) => writeAll(fd, svg));
        }
        if (o.json) return printJson(rep);
        const m = rep.machine;
        process.stdout.write(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, wasm ${String(m.simd)}, ${String(m.threads)} threads, load ${String(m.load_avg)}; cost model: ${cost}\n`);
        printTable(
          ['zeros', 'layout', 'median ms', 'round medians q1–q3', 'worker wakes', 'bytes', '× vs dense-f32-wasm', '× vs dense, paired by round', '× vs planes', '× smaller than f32'],
          rep.results.map((r) => [`${fixed(r.sparsity * 100, 1)} %`, r.chosen ? `auto → ${r.chosen}` : r.name, fixed(r.median_ms), `${fixed(r.q1_ms)}–${fixed(r.q3_ms)}`, `${fixed(r.wake_share * 100, 0)} %`, formatBytes(r.bytes), fixed(r.speedup_vs_dense_f32, 1), fixed(r.speedup_vs_dense_f32_paired, 1), fixed(r.speedup_vs_planes, 2), fixed(r.smaller_than_f32, 1)]),
        );
        printTable(['zeros', 'auto chose', 'fastest', 'chosen layout / fastest', 'auto case / fastest'], rep.auto.map((a) => [`${fixed(a.sparsity * 100, 1)} %`, a.chosen, a.best, fixed(a.chosen_over_best, 3), fixed(a.auto_over_best, 3)]));
        for (const s of rep.switches) process.stdout.write(`auto switches ${s.from} → ${s.to} between ${fixed(s.between[0] * 100, 1)} % and ${fixed(s.between[1] * 100, 1)} % zeros\n`);
      } finally {
        await be.dispose();
      }
    });
}
