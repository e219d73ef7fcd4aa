/**
 * rmsnorm — y = w ⊙ x·r per row of x [N, D], with r = 1/√(mean(x²) + ε).
 *
 * With g = ∂L/∂y ⊙ w (per row):
 *   ∂L/∂x = r·g − (r³/D)·x·Σ_j g_j x_j
 *   ∂L/∂w += Σ_rows ∂L/∂y ⊙ x·r
 * r is kept per row from the forward pass (N numbers).
 */
import { TritwiseError } from '../../errors.js';
import type { Tape } from '../tape.js';
import { alloc, Tensor } from '../tensor.js';

export function rmsnorm(tape: Tape, x: Tensor, w: Tensor, eps: number): Tensor {
  const D = w.size;
  if (x.size % D !== 0) throw new TritwiseError('E_SHAPE', 'rmsnorm width does not match its weight', { where: `rmsnorm ${w.name ?? ''}`, expected: `rows of ${D}`, got: `[${x.shape.join(', ')}]` });
  const N = x.size / D;
  const xd = x.data, wd = w.data;
  const y = new Tensor(alloc(x, N * D), x.shape, x.requiresGrad || w.requiresGrad);
  const yd = y.data;
  const rs = new Float64Array(N);
  for (let n = 0; n < N; n++) {
    const o = n * D;
    let ss = 0;
    for (let i = 0; i < D; i++) ss += xd[o + i]! * xd[o + i]!;
    const r = 1 / Math.sqrt(ss / D + eps);
    rs[n] = r;
    for (let i = 0; i < D; i++) yd[o + i] = wd[i]! * (r * xd[o + i]!);
  }
  if (tape.needs(x, w)) {
    tape.push(() => {
      const dy = y.grad;
      if (!dy) return;
      const dx = x.requiresGrad ? x.ensureGrad() : null;
      const dw = w.requiresGrad ? w.ensureGrad() : null;
      for (let n = 0; n < N; n++) {
        const o = n * D;
        const r = rs[n]!;
        if (dw) for (let i = 0; i < D; i++) dw[i]! += dy[o + i]! * xd[o + i]! * r;
        if (dx) {
          let dot = 0;
          for (let i = 0; i < D; i++) dot += dy[o + i]! * wd[i]! * xd[o + i]!;
          const c = (r * r * r * dot) / D;
          for (let i = 0; i < D; i++) dx[o + i]! += r * dy[o + i]! * wd[i]! - c * xd[o + i]!;
        }
      }
    });
  }
  return y;
}
