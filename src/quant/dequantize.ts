/**
 * dequantize — turning integer kernel accumulators into f32 outputs, in one shared place.
 *
 *   y[b,r] = xs[b] · rs[r] · Σ_g gs[r,g] · acc[b,r,g]
 *
 * xs: per-token activation scales (int8: max|x|/127; ternary: the token's α), rs: weight row
 * scales, gs: weight group scales (absent → one group of scale 1).
 */
import type { MultiTritTensor } from '../tensor/multi-trit-tensor.js';
import type { TernaryTensor } from '../tensor/ternary-tensor.js';

export function dequantizeAccumulators(
  acc: Int32Array,
  w: TernaryTensor,
  xScales: ArrayLike<number>,
  batch: number,
  out?: Float32Array,
): Float32Array {
  const G = w.groupsPerRow;
  const y = out ?? new Float32Array(batch * w.rows);
  const gs = w.groupScales;
  for (let b = 0; b < batch; b++) {
    const xs = xScales[b]!;
    for (let r = 0; r < w.rows; r++) {
      const base = (b * w.rows + r) * G;
      let s = 0;
      if (gs) for (let g = 0; g < G; g++) s += gs[r * G + g]! * acc[base + g]!;
      else s = acc[base]!;
      y[b * w.rows + r] = xs * w.scales[r]! * s;
    }
  }
  return y;
}

/**
 * Block-scaled accumulators (Q8_K activations, one scale per token and 256-column block, which
 * coincide with W's scale groups):
 *
 *   y[b,r] = rs[r] · Σ_g gs[r,g] · xs[b,g] · acc[b,r,g]
 */
export function dequantizeBlockAccumulators(
  acc: Int32Array,
  w: TernaryTensor,
  xBlockScales: Float32Array,
  batch: number,
  out?: Float32Array,
): Float32Array {
  const G = w.groupsPerRow;
  const y = out ?? new Float32Array(batch * w.rows);
  const gs = w.groupScales;
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < w.rows; r++) {
      const base = (b * w.rows + r) * G;
      let s = 0;
      for (let g = 0; g < G; g++) s += (gs ? gs[r * G + g]! : 1) * xBlockScales[b * G + g]! * acc[base + g]!;
      y[b * w.rows + r] = w.scales[r]! * s;
    }
  }
  return y;
}

/**
 * Multi-trit accumulators [batch, rows, depth, groups] (Backend.matmulMultiI8) to f32:
 *
 *   y[b,r] = xs[b] · Σ_p rs_p[r] · Σ_g gs_p[r,g] · acc[b,r,p,g]
 */
export function dequantizeMultiAccumulators(acc: Int32Array, m: MultiTritTensor, xScales: ArrayLike<number>, batch: number, out?: Float32Array): Float32Array {
  const d = m.depth;
  const G = m.planes[0]!.groupsPerRow;
  const y = out ?? new Float32Array(batch * m.rows);
  for (let b = 0; b < batch; b++) {
    for (let r = 0; r < m.rows; r++) {
      let s = 0;
      for (let p = 0; p < d; p++) {
        const t = m.planes[p]!;
        const base = ((b * m.rows + r) * d + p) * G;
        let ps = 0;
        if (t.groupScales) for (let g = 0; g < G; g++) ps += t.groupScales[r * G + g]! * acc[base + g]!;
        else ps = acc[base]!;
        s += t.scales[r]! * ps;
      }
      y[b * m.rows + r] = xScales[b]! * s;
    }
  }
  return y;
}
