/**
 * vsa-bench — measurements of the holographic key-value memory:
 *  - kvTrial: one store of N random pairs (the `tritwise vsa` command): accuracy and timings;
 *  - capacityCurve: accuracy against N for several D, single-shot and AMP (and greedy), with
 *    M random candidate values — every point is one seeded superposition;
 * (The speed table of the operations is vsa-speed.ts.)
 *
 * Single-shot accuracy on the curve is read off the AMP run (its first pass is exactly the
 * single-shot decode: same exact scores, same tie rule), so each point costs one full scoring.
 */
import { decode, type DecoderName } from '../vsa/decode/index.js';
import type { SuperpositionProblem } from '../vsa/decode/problem.js';
import type { VsaEngine } from '../vsa/engine/engine.js';
import { randomCodebook } from '../vsa/hypervector.js';
import { ItemMemory } from '../vsa/item-memory.js';
import { KeyValueStore } from '../vsa/kv-store.js';
import { seededRandom } from './random.js';

export interface KvTrialOptions {
  items: number;
  dim: number;
  values?: number;
  decoder?: DecoderName;
  seed?: number;
  density?: number;
  engine: VsaEngine;
  onProgress?: (msg: string) => void;
}

export interface KvTrialResult {
  items: number;
  dim: number;
  decoder: DecoderName;
  accuracy: number;
  /** mean µs per store.set (bind + add into the integer sum) */
  set_us: number;
  /** mean µs per retrieved key: single = one store.get each; joint decoders = decode time / N */
  get_us: number;
}

/** Fill a KeyValueStore with N random pairs and read every key back. */
export async function kvTrial(o: KvTrialOptions): Promise<KvTrialResult> {
  const M = o.values ?? 1000, decoder = o.decoder ?? 'single', seed = o.seed ?? 1;
  const store = await KeyValueStore.create(o.dim, { engine: o.engine, seed, density: o.density, decoder });
  const rng = seededRandom(seed ^ 0x5eed);
  for (let m = 0; m < M; m++) store.values.symbol(`v${m}`);
  const keys = Array.from({ length: o.items }, (_, i) => `k${i}`);
  for (const k of keys) store.keyVectors.symbol(k); // keys are made once, outside the timing
  const truth = keys.map(() => `v${rng.int(M)}`);
  o.onProgress?.(`codebooks ready: ${M} values, ${o.items} keys, D = ${o.dim}`);
  let t = performance.now();
  for (let i = 0; i < keys.length; i++) await store.set(keys[i]!, truth[i]!);
  const setUs = ((performance.now() - t) * 1000) / Math.max(1, keys.length);
  o.onProgress?.(`stored ${o.items} pairs`);
  let correct = 0;
  t = performance.now();
  for (let i = 0; i < keys.length; i++) {
    if ((await store.get(keys[i]!))!.value === truth[i]) correct++;
    if (decoder === 'single' && i % 100 === 99) o.onProgress?.(`read ${i + 1} keys`);
  }
  const getUs = ((performance.now() - t) * 1000) / Math.max(1, keys.length);
  return { items: o.items, dim: o.dim, decoder, accuracy: correct / Math.max(1, keys.length), set_us: setUs, get_us: getUs };
}

/** A seeded superposition of N random pairs over M random values, with the truth. */
export async function randomSuperposition(D: number, N: number, M: number, seed: number, engine: VsaEngine): Promise<{ problem: SuperpositionProblem; truth: Int32Array }> {
  const rng = seededRandom(seed);
  const V = randomCodebook(M, D, rng), K = randomCodebook(N, D, rng);
  const values = await ItemMemory.fromCodebook(V, undefined, { engine });
  const truth = Int32Array.from({ length: N }, () => rng.int(M));
  const acc = engine.accumulator(D);
  for (let i = 0; i < N; i++) acc.addBoundRows(K, i, V, truth[i]!);
  return { problem: { sum: acc.counts, keys: K, values }, truth };
}

export interface CurvePoint {
  dim: number;
  items: number;
  decoder: 'single' | 'amp' | 'greedy';
  accuracy: number;
  ms: number;
  full_scorings: number;
  iterations: number;
}

export interface CurveOptions {
  dims: number[];
  /** loads D/N to measure at (N = round(D / ratio)) */
  ratios: number[];
  values: number;
  seed: number;
  engine: VsaEngine;
  /** also run the greedy decoder for D ≤ this (it costs ~8 single-shot passes) */
  greedyMaxDim?: number;
  onPoint?: (p: CurvePoint) => void;
}

function acc(got: Int32Array, truth: Int32Array): number {
  let n = 0;
  for (let i = 0; i < truth.length; i++) if (got[i] === truth[i]) n++;
  return n / truth.length;
}

export async function capacityCurve(o: CurveOptions): Promise<CurvePoint[]> {
  const out: CurvePoint[] = [];
  const push = (p: CurvePoint) => {
    out.push(p);
    o.onPoint?.(p);
  };
  for (const D of o.dims) {
    for (const ratio of o.ratios) {
      const N = Math.round(D / ratio);
      const { problem, truth } = await randomSuperposition(D, N, o.values, o.seed + D + N, o.engine);
      const amp = await decode(problem, 'amp');
      const s = amp.stats;
      push({ dim: D, items: N, decoder: 'single', accuracy: acc(amp.singleShot!, truth), ms: NaN, full_scorings: N, iterations: 0 });
      push({ dim: D, items: N, decoder: 'amp', accuracy: acc(amp.indices, truth), ms: s.ms, full_scorings: s.fullScorings, iterations: s.iterations });
      if (D <= (o.greedyMaxDim ?? 0)) {
        const g = await decode(problem, 'greedy');
        push({ dim: D, items: N, decoder: 'greedy', accuracy: acc(g.indices, truth), ms: g.stats.ms, full_scorings: g.stats.fullScorings, iterations: 0 });
      }
      problem.values.release();
    }
  }
  return out;
}
