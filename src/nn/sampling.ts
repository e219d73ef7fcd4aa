/**
 * sampling — choosing the next token from logits.
 *
 *   greedy       (temperature 0): argmax, the lowest id on ties
 *   temperature  p = softmax(logits / T), then draw
 *   top-p        keep the smallest set of most likely tokens whose mass reaches P (nucleus),
 *                renormalize, then draw
 * Draws use a seeded PRNG, so a seed reproduces a generation exactly.
 */
import { TritwiseError } from '../errors.js';
import { seededRandom, type Rng } from '../eval/random.js';

export interface SamplingOptions {
  /** 0 = greedy (default 0) */
  temperature?: number;
  /** nucleus mass in (0, 1]; 1 = off (default 1) */
  topP?: number;
  /** PRNG seed (default 42) */
  seed?: number;
}

export function argmax(x: Float32Array, off = 0, n = x.length - off): number {
  let best = 0;
  for (let i = 1; i < n; i++) if (x[off + i]! > x[off + best]!) best = i;
  return best;
}

export class Sampler {
  readonly temperature: number;
  readonly topP: number;
  readonly rng: Rng;

  constructor(opts: SamplingOptions = {}) {
    this.temperature = opts.temperature ?? 0;
    this.topP = opts.topP ?? 1;
    if (!(Number.isFinite(this.temperature) && this.temperature >= 0)) throw new TritwiseError('E_ARG', 'invalid temperature', { where: 'sampling', expected: '≥ 0', got: this.temperature });
    if (!(this.topP > 0 && this.topP <= 1)) throw new TritwiseError('E_ARG', 'invalid top-p', { where: 'sampling', expected: '0 < p ≤ 1', got: this.topP });
    this.rng = seededRandom(opts.seed ?? 42);
  }

  sample(logits: Float32Array): number {
    if (this.temperature === 0) return argmax(logits);
    const n = logits.length;
    const p = new Float64Array(n);
    let m = -Infinity;
    for (let i = 0; i < n; i++) m = Math.max(m, logits[i]! / this.temperature);
    let s = 0;
    for (let i = 0; i < n; i++) s += p[i] = Math.exp(logits[i]! / this.temperature - m);
    for (let i = 0; i < n; i++) p[i]! /= s;
    const u = this.rng.next();
    if (this.topP >= 1) {
      let c = 0;
      for (let i = 0; i < n; i++) if ((c += p[i]!) > u) return i;
      return n - 1;
    }
    // nucleus: sort by probability, keep the head whose mass reaches topP
    const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => p[b]! - p[a]! || a - b);
    let mass = 0;
    let k = 0;
    while (k < n && mass < this.topP) mass += p[order[k++]!]!;
    let c = 0;
    for (let j = 0; j < k; j++) if ((c += p[order[j]!]!) > u * mass) return order[j]!;
    return order[k - 1]!;
  }
}
