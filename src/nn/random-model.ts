/**
 * random-model — Llama-shaped models with seeded random weights, for demos and benchmarks that
 * need no data files:
 *
 *   randomWeights         every tensor f32: linear weights and the embedding ~ N(0, std²), norms = 1
 *   randomTernaryWeights  linear layers drawn directly as trits (no f32 detour, so a 0.7B-shaped
 *                         model takes ~170 MB of planes instead of 2.7 GB of f32): each trit is
 *                         −1, 0, +1 with probabilities (d/2, 1−d, d/2) for density d; one f16-exact
 *                         scale per `groupSize` columns (default 256, llama.cpp's TQ block), so the
 *                         model exports to TQ2_0/TQ1_0 losslessly; embedding and output head f32
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

/** A random [rows, cols] ternary tensor with unit row scales and f16-exact group scales. */
export function randomTernaryTensor(rows: number, cols: number, seed: number, opts: RandomTernaryOptions = {}): TernaryTensor {
  const rng = seededRandom(seed);
  const density = opts.density ?? 2 / 3;
  const gsz = opts.groupSize ?? 256;
  const std = opts.std ?? 0.02;
  const wpr = wordsFor(cols);
  const plus = new Uint32Array(rows * wpr);
  const minus = new Uint32Array(rows * wpr);
  const half = density / 2;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < cols; c++) {
      const u = rng.next();
      if (u < half) plus[r * wpr + (c >>> 5)]! |= 1 << (c & 31);
      else if (u < density) minus[r * wpr + (c >>> 5)]! |= 1 << (c & 31);
    }
  }
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
    else for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
    weights.set(name, { shape, data });
  }
  return weights;
}
