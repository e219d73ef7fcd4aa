/**
 * rope — rotary position embedding as a differentiable op, in both conventions of nn/rope.ts
 * ('adjacent' pairs (x₂ᵢ, x₂ᵢ₊₁) or 'halves' (xᵢ, xᵢ₊d/₂)). Each pair is rotated by pθᵢ:
 *   (a, b) → (a·c − b·s, a·s + b·c),   c = cos pθᵢ, s = sin pθᵢ
 * a linear map R with Rᵀ = the rotation by −pθᵢ, so ∂L/∂x = Rᵀ·∂L/∂y:
 *   (∂a, ∂b) += (∂a'·c + ∂b'·s, −∂a'·s + ∂b'·c)
 * x is [N, heads·d]; `positions[n]` is row n's position in its sequence.
 */
import type { RopeStyle } from '../../nn/llama-config.js';
import type { RopeTables } from '../../nn/rope.js';
import type { Tape } from '../tape.js';
import { alloc, Tensor, type FloatArray } from '../tensor.js';

function rotate(out: FloatArray, x: FloatArray, N: number, heads: number, positions: ArrayLike<number>, t: RopeTables, style: RopeStyle, sign: number): void {
  const d = t.headDim;
  const half = d / 2;
  const W = heads * d;
  for (let n = 0; n < N; n++) {
    const cb = positions[n]! * half;
    for (let h = 0; h < heads; h++) {
      const o = n * W + h * d;
      for (let i = 0; i < half; i++) {
        const c = t.cos[cb + i]!;
        const s = sign * t.sin[cb + i]!;
        const ia = style === 'adjacent' ? o + 2 * i : o + i;
        const ib = style === 'adjacent' ? ia + 1 : ia + half;
        const a = x[ia]!, b = x[ib]!;
        out[ia] = a * c - b * s;
        out[ib] = a * s + b * c;
      }
    }
  }
}

export function rope(tape: Tape, x: Tensor, heads: number, positions: ArrayLike<number>, tables: RopeTables, style: RopeStyle): Tensor {
  const N = positions.length;
  let maxPos = 0;
  for (let n = 0; n < N; n++) maxPos = Math.max(maxPos, positions[n]!);
  tables.ensure(maxPos + 1);
  const y = new Tensor(alloc(x, x.size), x.shape, x.requiresGrad);
  rotate(y.data, x.data, N, heads, positions, tables, style, 1);
  if (tape.needs(x)) {
    tape.push(() => {
      const dy = y.grad;
      if (!dy) return;
      const tmp = alloc(dy, dy.length);
      rotate(tmp, dy, N, heads, positions, tables, style, -1);
      const g = x.ensureGrad();
      for (let i = 0; i < tmp.length; i++) g[i]! += tmp[i]!;
    });
  }
  return y;
}
