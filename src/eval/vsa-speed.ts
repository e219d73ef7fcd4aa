/**
 * vsa-speed — the speed table of the VSA operations at one dimension D, on the plain-TypeScript
 * ('js') and WebAssembly ('wasm') engines side by side in one run: every operation is timed on
 * both in interleaved rounds (js batch, wasm batch, js batch, …), so a busy machine slows both
 * alike; each round is one untimed call (to refill the caches the other engine's round evicted)
 * and a batch of calls sized to last ≥ 1 ms; reported: the median µs per call
 * over the rounds, the ratio js / wasm, and the fastest round (on a shared machine the median
 * carries the other jobs' load; the fastest round is close to the code's own speed). Vectors and accumulators live in each engine's own
 * memory (for wasm: the wasm heap, so no call copies a plane). One thread: the wasm engine's
 * backend runs the cleanup GEMV on the calling thread only.
 *
 * decodeSpeed: one AMP decode of N random pairs per engine (seconds, not a median).
 */
import { loadavg } from 'node:os';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { randomCodebook } from '../vsa/hypervector.js';
import { ItemMemory } from '../vsa/item-memory.js';
import { decode } from '../vsa/decode/index.js';
import { createVsaEngine, type VsaEngine } from '../vsa/engine/engine.js';
import { machineInfo, median, type MachineInfo } from './benchmark.js';
import { randomSuperposition } from './vsa-bench.js';

export interface SpeedRow {
  op: string;
  /** medians over the rounds, µs per call */
  js_us: number;
  wasm_us: number;
  /** the fastest round, µs per call (what the code does when the machine leaves it alone) */
  js_best_us: number;
  wasm_best_us: number;
  /** js_us / wasm_us */
  speedup: number;
  /** the WASM target in µs, where there is one */
  target_us: number | null;
  /** wasm_us (the median) ≤ target_us (null without a target) */
  met: boolean | null;
}

export interface SpeedReport {
  machine: MachineInfo;
  dim: number;
  items: number;
  threads: 1;
  /** interleaved rounds per operation and engine (the fewest over the operations) */
  rounds: number;
  /** 1-minute load average at the end (os.loadavg), for reading the medians */
  load: number;
  rows: SpeedRow[];
}

type Op = () => unknown;

interface OpSpec {
  op: string;
  target: number | null;
  /** per engine: a sync or async call */
  make: (e: Side) => Op;
  async?: boolean;
}

/** What one engine needs for the table: vectors, sums and a memory in its own storage. */
interface Side {
  engine: VsaEngine;
  a: ReturnType<VsaEngine['vector']>;
  b: ReturnType<VsaEngine['vector']>;
  /** sparse ternary (half the trits zero) */
  s: ReturnType<VsaEngine['vector']>;
  t: ReturnType<VsaEngine['vector']>;
  out: ReturnType<VsaEngine['vector']>;
  acc: ReturnType<VsaEngine['accumulator']>;
  sum: ReturnType<VsaEngine['accumulator']>;
  query: TernaryTensor;
  mem: ItemMemory;
}

async function side(engine: VsaEngine, D: number, items: number): Promise<Side> {
  const sum = engine.accumulator(D);
  for (let i = 0; i < 1000; i++) sum.add(engine.random(D, 100 + i));
  const a = engine.random(D, 1);
  const query = TernaryTensor.zeros(1, D);
  query.plus.set(a.plus);
  query.minus.set(a.minus);
  const mem = await ItemMemory.fromCodebook(randomCodebook(items, D, 3), undefined, { engine });
  await mem.scoreTrits(query); // upload outside the timing
  const s = engine.random(D, 4, { density: 0.5 }), t = engine.random(D, 5, { density: 0.5 });
  return { engine, a, b: engine.random(D, 2), s, t, out: engine.vector(D), acc: engine.accumulator(D), sum, query, mem };
}

/** Calls per batch so that one batch lasts about `ms`. */
async function batchSize(fn: Op, isAsync: boolean, ms: number): Promise<number> {
  for (let n = 1; ; n *= 2) {
    const t = await runBatch(fn, isAsync, n);
    if (t >= ms || n >= 1 << 20) return Math.max(1, Math.ceil((n * ms) / Math.max(t, 1e-3)));
  }
}

/** Time n calls, after one untimed call: the other engine's round just ran and evicted this one's data from the caches. */
async function runBatch(fn: Op, isAsync: boolean, n: number): Promise<number> {
  await fn();
  const t0 = performance.now();
  if (isAsync) for (let i = 0; i < n; i++) await fn();
  else for (let i = 0; i < n; i++) fn();
  return performance.now() - t0;
}

/** Medians of the VSA operations at dimension D, js and wasm interleaved (cleanup against `items`). */
export async function vsaSpeed(D: number, items: number, minTimeMs = 300): Promise<SpeedReport> {
  const js = await createVsaEngine('js');
  const wasm = await createVsaEngine('wasm', { threads: 1 });
  try {
    const sides = [await side(js, D, items), await side(wasm, D, items)] as const;
    const unbound = new Int32Array(D);
    const specs: OpSpec[] = [
      { op: 'bind', target: 0.3, make: (s) => () => s.engine.bindInto(s.out, s.a, s.b) },
      { op: 'similarity (dot + cosine), dense bipolar', target: 0.3, make: (s) => () => s.engine.similarity(s.a, s.b) },
      { op: 'similarity (dot + cosine), sparse ternary (half zeros)', target: 0.3, make: (s) => () => s.engine.similarity(s.s, s.t) },
      { op: 'permute by 1 (D % 32 ≠ 0: funnel path)', target: null, make: (s) => () => s.engine.permuteInto(s.out, s.a, 1) },
      { op: 'permute by 32', target: null, make: (s) => () => s.engine.permuteInto(s.out, s.a, 32) },
      { op: 'bundle: accumulate one vector', target: null, make: (s) => () => s.acc.add(s.a) },
      { op: 'bundle: accumulate bind(k, v) (= key-value set)', target: null, make: (s) => () => s.acc.addBound(s.a, s.b) },
      { op: 'bundle: threshold the sum to trits', target: null, make: (s) => () => s.sum.thresholdInto(s.out) },
      { op: 'unbind the sum by a key (Int32 query)', target: null, make: (s) => () => s.sum.unbind(s.a, unbound) },
      { op: `cleanup: trit query vs ${items} items (1 GEMV)`, target: 250, async: true, make: (s) => () => s.mem.scoreTrits(s.query) },
      { op: `cleanup: integer query (sum of 1,000) vs ${items} items (digit planes, 1 GEMV)`, target: null, async: true, make: (s) => () => s.mem.scoreInts([s.sum.unbind(s.a, unbound)]) },
    ];
    const rows: SpeedRow[] = [];
    let rounds = 0;
    for (const spec of specs) {
      const fns = sides.map((s) => spec.make(s));
      const isAsync = spec.async === true;
      const n = await Promise.all(fns.map((f) => batchSize(f, isAsync, 1)));
      const samples: number[][] = [[], []];
      const t0 = performance.now();
      while (samples[0]!.length < 7 || performance.now() - t0 < 2 * minTimeMs) {
        for (let k = 0; k < 2; k++) samples[k]!.push(((await runBatch(fns[k]!, isAsync, n[k]!)) * 1000) / n[k]!);
      }
      rounds = rounds === 0 ? samples[0]!.length : Math.min(rounds, samples[0]!.length);
      const [jsUs, wasmUs] = [median(samples[0]!), median(samples[1]!)] as [number, number];
      rows.push({ op: spec.op, js_us: jsUs, wasm_us: wasmUs, js_best_us: Math.min(...samples[0]!), wasm_best_us: Math.min(...samples[1]!), speedup: jsUs / wasmUs, target_us: spec.target, met: spec.target === null ? null : wasmUs <= spec.target });
    }
    for (const s of sides) s.acc.clear(); // (the sums above grow by 1 per call: far below 2³¹)
    for (const s of sides) s.mem.release();
    return { machine: machineInfo({ ...wasm.describe(), threads: 1 }), dim: D, items, threads: 1, rounds, load: loadavg()[0]!, rows };
  } finally {
    await js.dispose();
    await wasm.dispose();
  }
}

export interface DecodeRow {
  dim: number;
  items: number;
  values: number;
  engine: string;
  accuracy: number;
  seconds: number;
  iterations: number;
  full_scorings: number;
}

/** One AMP decode of N random pairs (M values) per engine, at dimension D. */
export async function decodeSpeed(D: number, Ns: readonly number[], M: number, seed: number, onRow?: (r: DecodeRow) => void): Promise<DecodeRow[]> {
  const out: DecodeRow[] = [];
  for (const name of ['wasm', 'js'] as const) {
    const engine = await createVsaEngine(name, { threads: 1 });
    try {
      for (const N of Ns) {
        const { problem, truth } = await randomSuperposition(D, N, M, seed + D + N, engine);
        const r = await decode(problem, 'amp');
        let ok = 0;
        for (let i = 0; i < N; i++) if (r.indices[i] === truth[i]) ok++;
        const row = { dim: D, items: N, values: M, engine: name, accuracy: ok / N, seconds: r.stats.ms / 1000, iterations: r.stats.iterations, full_scorings: r.stats.fullScorings };
        out.push(row);
        onRow?.(row);
        problem.values.release();
      }
    } finally {
      await engine.dispose();
    }
  }
  return out;
}
