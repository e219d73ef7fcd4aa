/**
 * ref/kernels — the plain-TypeScript reference kernels: the ground truth every fast backend is
 * tested against. They favour clarity over speed; sums are taken in f64 (JS numbers), so the f32
 * results are as accurate as f32 output allows.
 *
 * Shapes: W is a TernaryTensor [rows, cols]; activations are [batch, cols] row-major; outputs are
 * [batch, rows] (f32) or [batch, rows, groups] (integer accumulators, one per scale group).
 */
import { TritwiseError } from '../../errors.js';
import { dotPlanes } from '../../tensor/bits.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';

function checkActivations(w: { cols: number }, x: ArrayLike<number>, batch: number, where: string): void {
  if (!Number.isInteger(batch) || batch < 0) throw new TritwiseError('E_ARG', 'invalid batch', { where, expected: 'an integer ≥ 0', got: batch });
  if (x.length < batch * w.cols) {
    throw new TritwiseError('E_SHAPE', 'activations too short', { where, expected: `batch×cols = ${batch}×${w.cols} = ${batch * w.cols}`, got: x.length });
  }
}

function outArray<T extends Float32Array | Int32Array>(ctor: { new (n: number): T }, n: number, out: T | undefined, where: string): T {
  if (!out) return new ctor(n);
  if (out.length < n) throw new TritwiseError('E_SHAPE', 'output buffer too short', { where, expected: n, got: out.length });
  return out;
}

/** Column range [c0, c1) of group g of W (the whole row when W has no group scales). */
export function groupRange(w: TernaryTensor, g: number): [number, number] {
  if (!w.groupSize) return [0, w.cols];
  const c0 = g * w.groupSize;
  return [c0, Math.min(w.cols, c0 + w.groupSize)];
}

/**
 * Σ_{c∈[c0,c1)} t[r,c]·x[xOff+c] over the set bits of row r's planes: add x where the trit is +1,
 * subtract where it is −1. Groups are whole words (multiples of 32) or the whole row.
 */
function rowGroupSum(w: TernaryTensor, r: number, c0: number, c1: number, x: ArrayLike<number>, xOff: number): number {
  let acc = 0;
  const base = r * w.wordsPerRow;
  for (let word = c0 >>> 5; word < (c1 + 31) >>> 5; word++) {
    for (const [plane, sign] of [
      [w.plus, 1],
      [w.minus, -1],
    ] as const) {
      let bits = plane[base + word]!;
      while (bits !== 0) {
        const b = 31 - Math.clz32(bits & -bits); // index of the lowest set bit
        bits &= bits - 1;
        acc += sign * x[xOff + word * 32 + b]!;
      }
    }
  }
  return acc;
}

/**
 * Ternary × f32:  y[b,r] = rs[r] · Σ_g gs[r,g] · Σ_{c∈g} t[r,c]·x[b,c]
 * (add x where the trit is +1, subtract where it is −1, then scale).
 */
export function gemmTernaryF32(w: TernaryTensor, x: Float32Array, batch: number, out?: Float32Array): Float32Array {
  checkActivations(w, x, batch, 'gemmTernaryF32');
  const y = outArray(Float32Array, batch * w.rows, out, 'gemmTernaryF32');
  const G = w.groupsPerRow;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < w.rows; r++) {
      let sum = 0;
      for (let g = 0; g < G; g++) {
        const [c0, c1] = groupRange(w, g);
        const acc = rowGroupSum(w, r, c0, c1, x, b * w.cols);
        sum += w.groupScales ? w.groupScales[r * G + g]! * acc : acc;
      }
      y[b * w.rows + r] = sum * w.scales[r]!;
    }
  }
  return y;
}

/** Ternary × int8: acc[b,r,g] = Σ_{c∈g} t[r,c]·q[b,c], exact integers. */
export function gemmTernaryI8(w: TernaryTensor, q: Int8Array, batch: number, out?: Int32Array): Int32Array {
  checkActivations(w, q, batch, 'gemmTernaryI8');
  const G = w.groupsPerRow;
  const acc = outArray(Int32Array, batch * w.rows * G, out, 'gemmTernaryI8');
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < w.rows; r++) {
      for (let g = 0; g < G; g++) {
        const [c0, c1] = groupRange(w, g);
        acc[(b * w.rows + r) * G + g] = rowGroupSum(w, r, c0, c1, q, b * w.cols);
      }
    }
  }
  return acc;
}

/**
 * Ternary × ternary by popcount over whole words:
 *   acc[b,r,g] = Σ_{words of g} pc(w⁺&u⁺) + pc(w⁻&u⁻) − pc(w⁺&u⁻) − pc(w⁻&u⁺)
 * Groups are multiples of 32 columns, so they cover whole words.
 */
export function gemmTernaryTernary(w: TernaryTensor, x: TernaryTensor, out?: Int32Array): Int32Array {
  if (x.cols !== w.cols) throw new TritwiseError('E_SHAPE', 'activation width does not match weights', { where: 'gemmTernaryTernary', expected: w.cols, got: x.cols });
  const G = w.groupsPerRow;
  const acc = outArray(Int32Array, x.rows * w.rows * G, out, 'gemmTernaryTernary');
  const wpr = w.wordsPerRow;
  const wordsPerGroup = w.groupSize ? w.groupSize / 32 : wpr;
  for (let b = 0; b < x.rows; b++) {
    for (let r = 0; r < w.rows; r++) {
      for (let g = 0; g < G; g++) {
        const w0 = g * wordsPerGroup;
        const n = Math.min(wpr, w0 + wordsPerGroup) - w0;
        acc[(b * w.rows + r) * G + g] = dotPlanes(w.plus, w.minus, r * wpr + w0, x.plus, x.minus, b * wpr + w0, n);
      }
    }
  }
  return acc;
}

/** Dense f32 baseline: y[b,r] = Σ_c W[r,c]·x[b,c]. */
export function gemmDense(w: Float32Array, rows: number, cols: number, x: Float32Array, batch: number, out?: Float32Array): Float32Array {
  checkActivations({ cols }, x, batch, 'gemmDense');
  const y = outArray(Float32Array, batch * rows, out, 'gemmDense');
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) s += w[r * cols + c]! * x[b * cols + c]!;
      y[b * rows + r] = s;
    }
  }
  return y;
}

/** Raw ternary dot of two equal-length trit vectors (no scales). */
export function dotTernaryRaw(a: TernaryTensor, b: TernaryTensor): number {
  if (a.rows !== 1 || b.rows !== 1 || a.cols !== b.cols) {
    throw new TritwiseError('E_SHAPE', 'dot needs two vectors of equal length', { where: 'dotTernary', expected: `1×${a.cols} and 1×${a.cols}`, got: `${a.rows}×${a.cols} and ${b.rows}×${b.cols}` });
  }
  return dotPlanes(a.plus, a.minus, 0, b.plus, b.minus, 0, a.wordsPerRow);
}

/** Scaled ternary dot: raw · scale(a) · scale(b). */
export function dotTernary(a: TernaryTensor, b: TernaryTensor): number {
  return dotTernaryRaw(a, b) * a.scales[0]! * b.scales[0]!;
}
