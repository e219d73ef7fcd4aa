/**
 * `tritwise vsa` — the holographic key-value memory from the command line.
 *
 *   tritwise vsa --items N --dim D [--decoder single|iterative] [--seed S] [--json]
 *     stores N random key → value pairs (M = 1,000 candidate values) in one D-trit integer
 *     superposition, reads every key back, and prints {items, dim, decoder, accuracy, set_us, get_us}.
 *   tritwise vsa bench [--dims …] [--ratios …] [--decode N,…] [--out-dir bench/results]
 *     the capacity curve (JSON + SVG), the speed table of the VSA operations (plain JS and WASM
 *     side by side, one thread), and optionally AMP decode times on both engines.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import cliProgress from 'cli-progress';
import { InvalidArgumentError, Option, type Command } from 'commander';
import { machineInfo } from '../eval/benchmark.js';
import { renderLineChart, type Series } from '../eval/svg-chart.js';
import { capacityCurve, kvTrial, type CurvePoint } from '../eval/vsa-bench.js';
import { decodeSpeed, vsaSpeed } from '../eval/vsa-speed.js';
import { writeFileAtomic, writeAll } from '../io/atomic-write.js';
import { DECODERS, type DecoderName } from '../vsa/decode/index.js';
import { createVsaEngine, VSA_ENGINES } from '../vsa/engine/engine.js';
import { checkDim } from '../vsa/hypervector.js';
import { ampStateEvolution, cleanupAccuracy } from '../vsa/theory.js';
import { positiveInt } from './bench.js';
import { fixed, printJson, printTable, writeJsonFile } from './output.js';

function integer(s: string): number {
  const n = Number(s);
  if (!Number.isSafeInteger(n)) throw new InvalidArgumentError(`expected an integer, got "${s}"`);
  return n;
}

function numberList(s: string): number[] {
  const v = s.split(',').map(Number);
  if (!v.every((n) => Number.isFinite(n) && n > 0)) throw new InvalidArgumentError(`expected positive numbers such as 1024,4096, got "${s}"`);
  return v;
}

function density(s: string): number {
  const n = Number(s);
  if (!(n > 0 && n <= 1)) throw new InvalidArgumentError(`expected a density in (0, 1], got "${s}"`);
  return n;
}

const DIM_COLORS: Record<number, string> = { 1024: '#1f77b4', 4096: '#2ca02c', 10000: '#d62728', 16384: '#9467bd' };
const EXTRA_COLORS = ['#ff7f0e', '#8c564b', '#e377c2', '#17becf'];

/** The capacity chart: accuracy against N, one color per D; dashed = single-shot, dotted = greedy. */
export function capacitySvg(points: readonly CurvePoint[], values: number): string {
  const dims = [...new Set(points.map((p) => p.dim))];
  const series: Series[] = [];
  dims.forEach((D, k) => {
    const color = DIM_COLORS[D] ?? EXTRA_COLORS[k % EXTRA_COLORS.length]!;
    for (const [dec, label, dash] of [['single', 'single-shot', 'dashed'], ['greedy', 'greedy', 'dotted'], ['amp', 'AMP', 'solid']] as const) {
      const pts = points.filter((p) => p.dim === D && p.decoder === dec).sort((a, b) => a.items - b.items);
      if (pts.length) series.push({ name: `D=${D} ${label}`, color, dash, points: pts.map((p) => [p.items, p.accuracy] as const) });
    }
  });
  return renderLineChart({
    title: `Key-value retrieval accuracy vs stored pairs N (${values} candidate values)`,
    xLabel: 'stored pairs N',
    yLabel: 'retrieval accuracy',
    series,
    y: [0, 1],
    yFormat: (v) => `${Math.round(v * 100)}%`,
  });
}

/**
 * The same points against the load N/D, with the theory: the single-shot prediction
 * ∫φ(z)Φ(z + √(D/N))^{M−1}dz and the AMP state-evolution prediction (black lines).
 */
export function loadSvg(points: readonly CurvePoint[], values: number): string {
  const dims = [...new Set(points.map((p) => p.dim))];
  const series: Series[] = [];
  const loads = Array.from({ length: 60 }, (_, i) => 0.02 + (i * 0.2) / 59);
  series.push({ name: 'theory single-shot', color: '#000000', dash: 'dotted', points: loads.map((l) => [l, cleanupAccuracy(Math.sqrt(1 / l), values)] as const) });
  const ratios = [...new Set(points.map((p) => p.dim / p.items))];
  const se = [...new Set([...ratios.map((r) => Math.round(r * 100) / 100), 5, 5.5, 6, 6.25, 6.5, 6.75, 7, 7.5])].sort((a, b) => b - a);
  series.push({ name: 'theory AMP (state evol.)', color: '#000000', points: se.map((r) => [1 / r, ampStateEvolution(r, values).accuracy] as const) });
  dims.forEach((D, k) => {
    const color = DIM_COLORS[D] ?? EXTRA_COLORS[k % EXTRA_COLORS.length]!;
    for (const [dec, label, dash] of [['single', 'single-shot', 'dashed'], ['greedy', 'greedy', 'dotted'], ['amp', 'AMP', 'solid']] as const) {
      const pts = points.filter((p) => p.dim === D && p.decoder === dec).sort((a, b) => a.items - b.items);
      if (pts.length) series.push({ name: `D=${D} ${label}`, color, dash, points: pts.map((p) => [p.items / p.dim, p.accuracy] as const) });
    }
  });
  return renderLineChart({
    title: `Accuracy vs load N/D (${values} values): measured and predicted`,
    xLabel: 'load N/D (pairs per dimension)',
    yLabel: 'retrieval accuracy',
    series,
    x: [0, 0.22],
    y: [0, 1],
    yFormat: (v) => `${Math.round(v * 100)}%`,
    height: 560,
  });
}

export function registerVsa(program: Command): void {
  const vsa = program
    .command('vsa')
    .description('holographic key-value memory: store N random pairs in one D-trit superposition and read them back')
    .option('--items <n>', 'key-value pairs N', positiveInt, 1000)
    .option('--dim <d>', 'hypervector dimension D (64 … 1,000,000)', positiveInt, 10000)
    .addOption(new Option('--decoder <name>', 'single-shot cleanup, or a joint decoder (iterative = amp)').choices([...DECODERS]).default('single'))
    .option('--values <m>', 'candidate values M in the cleanup memory', positiveInt, 1000)
    .option('--seed <s>', 'seed of the random keys, values and pairs', integer, 1)
    .option('--density <rho>', 'fraction of nonzero trits in keys and values (1 = dense bipolar)', density, 1)
    .addOption(new Option('--engine <name>', 'VSA engine: plain TypeScript (js, with the reference backend) or WebAssembly (wasm); auto = wasm where it loads').choices([...VSA_ENGINES]).default('auto'))
    .option('--json', 'print {items, dim, decoder, accuracy, set_us, get_us} as JSON')
    .action(async (o: { items: number; dim: number; decoder: DecoderName; values: number; seed: number; density: number; engine: string; json?: boolean }) => {
      checkDim(o.dim, '--dim');
      const engine = await createVsaEngine(o.engine, { threads: 1 });
      try {
        const r = await kvTrial({ ...o, engine, onProgress: o.json ? undefined : (m) => process.stderr.write(`  ${m}\n`) });
        if (o.json) return printJson(r);
        const m = machineInfo(engine.describe());
        process.stdout.write(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, engine ${engine.name} (backend ${engine.backend.name}${m.simd ? `, ${m.simd}` : ''}), 1 thread\n`);
        printTable(
          ['items', 'dim', 'values', 'decoder', 'accuracy', 'set µs/pair', 'get µs/key'],
          [[r.items, r.dim, o.values, r.decoder, `${(r.accuracy * 100).toFixed(2)}%`, fixed(r.set_us, 1), fixed(r.get_us, 1)]],
        );
      } finally {
        await engine.dispose();
      }
    });

  vsa
    .command('bench')
    .description('capacity curve (accuracy vs N for several D; single-shot, AMP, greedy) as JSON + SVG, and the speed table (plain JS and WASM side by side)')
    .option('--dims <list>', 'dimensions', numberList, [1024, 4096, 10000, 16384])
    .option('--ratios <list>', 'loads D/N at which to measure', numberList, [24, 16, 12, 10, 9, 8, 7, 6])
    .option('--values <m>', 'candidate values M', positiveInt, 1000)
    .option('--seed <s>', 'base seed', integer, 1)
    .option('--greedy-max-dim <d>', 'also run the (slow) greedy decoder up to this D', integer, 4096)
    .option('--speed-dim <d>', 'dimension of the speed table', positiveInt, 10000)
    .option('--min-time <ms>', 'minimum timing per operation and engine', positiveInt, 300)
    .option('--decode <list>', 'also time one AMP decode of N pairs at the speed dimension, per engine (e.g. 1000,1250)', numberList)
    .option('--no-curve', 'skip the capacity curve')
    .option('--no-speed', 'skip the speed table')
    .addOption(new Option('--engine <name>', 'VSA engine of the capacity curve').choices([...VSA_ENGINES]).default('auto'))
    .option('--out-dir <dir>', 'where to write vsa-capacity.{json,svg}, vsa-speed.json and vsa-decode.json', 'bench/results')
    .option('--merge', 'add the new points to an existing vsa-capacity.json (same D, N and decoder are replaced)')
    .action(async (o: { dims: number[]; ratios: number[]; values: number; seed: number; greedyMaxDim: number; speedDim: number; minTime: number; decode?: number[]; curve: boolean; speed: boolean; engine: string; outDir: string; merge?: boolean }) => {
      for (const d of [...o.dims, o.speedDim]) checkDim(d, '--dims');
      const engine = await createVsaEngine(o.engine, { threads: 1 });
      mkdirSync(o.outDir, { recursive: true });
      const m = machineInfo({ ...engine.describe(), threads: 1 });
      process.stdout.write(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, ${m.simd ? `${m.simd}, ` : ''}1 thread\n`);
      try {
        if (o.speed) {
          const s = await vsaSpeed(o.speedDim, o.values, o.minTime);
          writeJsonFile(join(o.outDir, 'vsa-speed.json'), s);
          process.stdout.write(`speed at D = ${o.speedDim}, µs per call: medians of ≥ ${s.rounds} interleaved rounds per engine, and the fastest round (load average ${s.load.toFixed(1)})\n`);
          printTable(['op', 'plain JS µs', 'WASM µs', 'JS / WASM', 'best JS / WASM µs', 'WASM target µs', 'median met'], s.rows.map((r) => [r.op, fixed(r.js_us, 3), fixed(r.wasm_us, 3), `${fixed(r.speedup, 1)}×`, `${fixed(r.js_best_us, 3)} / ${fixed(r.wasm_best_us, 3)}`, r.target_us ?? '—', r.met === null ? '—' : r.met ? 'yes' : `no (${fixed(r.wasm_us / r.target_us!, 2)}×)`]));
        }
        if (o.decode?.length) {
          const rows = await decodeSpeed(o.speedDim, o.decode, o.values, o.seed, (r) => process.stderr.write(`  AMP ${r.engine} D=${r.dim} N=${r.items}: ${(r.accuracy * 100).toFixed(1)}% in ${r.seconds.toFixed(1)} s\n`));
          writeJsonFile(join(o.outDir, 'vsa-decode.json'), { machine: m, rows });
          printTable(['D', 'N', 'engine', 'accuracy', 'AMP decode s', 'iterations', 'full scorings'], rows.map((r) => [r.dim, r.items, r.engine, `${(r.accuracy * 100).toFixed(1)}%`, fixed(r.seconds, 2), r.iterations, r.full_scorings]));
        }
        if (o.curve) {
          const total = o.dims.length * o.ratios.length;
          const bar = new cliProgress.SingleBar({ format: 'capacity {bar} {value}/{total} points | {last}', stream: process.stderr }, cliProgress.Presets.shades_classic);
          const tty = process.stderr.isTTY === true;
          if (tty) bar.start(total, 0, { last: '' });
          const fresh = await capacityCurve({
            dims: o.dims,
            ratios: o.ratios,
            values: o.values,
            seed: o.seed,
            engine,
            greedyMaxDim: o.greedyMaxDim,
            onPoint: (p) => {
              if (p.decoder !== 'amp') return;
              const last = `D=${p.dim} N=${p.items} amp ${(p.accuracy * 100).toFixed(1)}% in ${(p.ms / 1000).toFixed(1)} s`;
              if (tty) bar.increment(1, { last });
              else process.stderr.write(`  ${last}\n`);
            },
          });
          if (tty) bar.stop();
          const file = join(o.outDir, 'vsa-capacity.json');
          const key = (p: CurvePoint) => `${p.dim}|${p.items}|${p.decoder}`;
          const have = new Set(fresh.map(key));
          const old: CurvePoint[] = o.merge && existsSync(file) ? (JSON.parse(readFileSync(file, 'utf8')) as { points: CurvePoint[] }).points : [];
          const points = [...old.filter((p) => !have.has(key(p))), ...fresh].sort((a, b) => a.dim - b.dim || a.items - b.items);
          writeJsonFile(file, { machine: m, values: o.values, seed: o.seed, points });
          const svg = capacitySvg(points, o.values);
          writeFileAtomic(join(o.outDir, 'vsa-capacity.svg'), (fd) => writeAll(fd, new TextEncoder().encode(svg)));
          const svg2 = loadSvg(points, o.values);
          writeFileAtomic(join(o.outDir, 'vsa-capacity-load.svg'), (fd) => writeAll(fd, new TextEncoder().encode(svg2)));
          const rows = [...new Set(points.map((p) => `${p.dim}|${p.items}`))].map((k) => {
            const [D, N] = k.split('|').map(Number) as [number, number];
            const get = (d: string) => points.find((p) => p.dim === D && p.items === N && p.decoder === d);
            const pct = (d: string) => (get(d) ? `${(get(d)!.accuracy * 100).toFixed(1)}%` : '—');
            return [D, N, fixed(D / N, 1), pct('single'), pct('greedy'), pct('amp'), fixed(get('amp')!.ms / 1000, 1)];
          });
          printTable(['D', 'N', 'D/N', 'single', 'greedy', 'AMP', 'AMP s'], rows);
          process.stdout.write(`wrote ${join(o.outDir, 'vsa-capacity.json')}, vsa-capacity.svg and vsa-capacity-load.svg\n`);
        }
      } finally {
        await engine.dispose();
      }
    });
}
