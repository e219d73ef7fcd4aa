/**
 * random-model — Llama-shaped models with seeded random weights, for demos and benchmarks that
 * need no data files:
 *
 *   randomWeights         every tensor f32: linear weights and the embedding ~ N(0, std²), norms = 1
 *   randomTernaryWeights  linear layers drawn directly as trits (no f32 detour, so a 0.7B-shaped
 *                         model takes ~170 MB of planes instead of 2.7 GB of f32): each trit is
 *                         −1, 0, +1 with probabilities (d/2, 1−d, d/2) for density d; one f16-exact
 *                         scale per `groupSize` columns (default 256, llama.cpp's TQ block), so the
 *                         model exports to TQ2_0/TQ1_0 losslessly; embedding and output head f32,
 *                         uniform with standard deviation std
 */
import { seededRandom } from '../eval/random.js';
import { f16ToF32, f32ToF16 } from '../io/half.js';
import type { StoredTensor } from '../io/weights-file.js';
import { wordsFor } from '../tensor/bits.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';
import { expectedShapes, linearNames, type LlamaConfig } from './llama-config.js';

export function randomWeights(config: LlamaConfig, seed = 1, std = 0.02): Map<string, StoredTensor> {
  const rng = seededRandom(seed);
  const weights = new Map<string, StoredTensor>();
  for (const [name, shape] of expectedShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length === 1) data.fill(1);
    else for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    weights.set(name, { shape, data });
  }
  return weights;
}

export interface RandomTernaryOptions {
  /** fraction of nonzero trits (default 2/3, about what absmean gives on Gaussian weights) */
  density?: number;
  /** columns per scale group, a multiple of 32 (default 256) */
  groupSize?: number;
  /** std of the f32 tensors (embedding, output head) and mean of the group scales (default 0.02) */
  std?: number;
}

/**
 * A random [rows, cols] ternary tensor with unit row scales and f16-exact group scales. Trits come
 * two per 32-bit draw of a seeded xorshift generator (16 bits each against the density), so a
 * 0.7B-shaped model takes about a second.
 */
export function randomTernaryTensor(rows: number, cols: number, seed: number, opts: RandomTernaryOptions = {}): TernaryTensor {
  const density = opts.density ?? 2 / 3;
  const gsz = opts.groupSize ?? 256;
  const std = opts.std ?? 0.02;
  const wpr = wordsFor(cols);
  const plus = new Uint32Array(rows * wpr);
  const minus = new Uint32Array(rows * wpr);
  const tPlus = Math.round((density / 2) * 65536);
  const tNz = Math.round(density * 65536);
  let x = (seed ^ 0x9e3779b9) >>> 0 || 1;
  for (let r = 0; r < rows; r++) {
    for (let w = 0; w < wpr; w++) {
      let p = 0,
        m = 0;
      for (let b = 0; b < 32; b += 2) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        // branch-free: (u − t) >>> 31 is 1 exactly when u < t
        const lo = x & 0xffff,
          hi = x >>> 16;
        const pl = (lo - tPlus) >>> 31,
          ph = (hi - tPlus) >>> 31;
        p |= (pl | (ph << 1)) << b;
        m |= ((((lo - tNz) >>> 31) ^ pl) | ((((hi - tNz) >>> 31) ^ ph) << 1)) << b;
      }
      const keep = w === wpr - 1 && cols % 32 ? (1 << cols % 32) - 1 : -1;
      plus[r * wpr + w] = p & keep;
      minus[r * wpr + w] = m & keep;
    }
  }
  const rng = seededRandom(seed);
  const G = gsz ? Math.ceil(cols / gsz) : 0;
  const groupScales = gsz ? Float32Array.from({ length: rows * G }, () => f16ToF32(f32ToF16(std * (0.75 + 0.5 * rng.next())))) : null;
  return new TernaryTensor({ rows, cols, plus, minus, scales: new Float32Array(rows).fill(gsz ? 1 : std), groupSize: gsz, groupScales, quantizer: 'random' });
}

/** Every linear layer ternary (the output head stays f32 unless the config shares it). */
export function randomTernaryWeights(config: LlamaConfig, seed = 1, opts: RandomTernaryOptions = {}): Map<string, StoredTensor> {
  const rng = seededRandom(seed);
  const std = opts.std ?? 0.02;
  const linear = new Set(linearNames(config).filter((n) => n !== 'output'));
  const weights = new Map<string, StoredTensor>();
  let k = 0;
  for (const [name, shape] of expectedShapes(config)) {
    k++;
    if (linear.has(name)) {
      weights.set(name, randomTernaryTensor(shape[0]!, shape[1]!, (seed * 7919 + k * 104729) >>> 0, opts));
      continue;
    }
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    if (shape.length === 1) data.fill(1);
    else {
      // uniform on ±√3·std (the same variance as N(0, std²), and far cheaper to draw)
      const a = 2 * Math.sqrt(3) * std;
      for (let i = 0; i < n; i++) data[i] = (rng.next() - 0.5) * a;
    }
    weights.set(name, { shape, data });
  }
  return weights;
}
