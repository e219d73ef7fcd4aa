/**
 * elementwise — the small ops of a Llama block:
 *   add      y = a + b                       ∂a += ∂y, ∂b += ∂y   (residual connections)
 *   scale    y = s·x                         ∂x += s·∂y           (LoRA's α/r)
 *   swiglu   y = silu(g) ⊙ u,  silu(g) = g·σ(g),  σ(g) = 1/(1 + e^−g)
 *            ∂u += ∂y ⊙ silu(g),  ∂g += ∂y ⊙ u ⊙ σ(g)·(1 + g·(1 − σ(g)))
 *   embedding  y[n] = E[ids[n]]              ∂E[ids[n]] += ∂y[n]  (scatter-add)
 */
import { TritwiseError } from '../../errors.js';
import type { Tape } from '../tape.js';
import { alloc, Tensor } from '../tensor.js';

function sameSize(a: Tensor, b: Tensor, where: string): void {
  if (a.size !== b.size) throw new TritwiseError('E_SHAPE', 'operands differ in size', { where, expected: `[${a.shape.join(', ')}]`, got: `[${b.shape.join(', ')}]` });
}

export function add(tape: Tape, a: Tensor, b: Tensor): Tensor {
  sameSize(a, b, 'add');
  const n = a.size;
  const y = new Tensor(alloc(a, n), a.shape, a.requiresGrad || b.requiresGrad);
  const ad = a.data, bd = b.data, yd = y.data;
  for (let i = 0; i < n; i++) yd[i] = ad[i]! + bd[i]!;
  if (tape.needs(a, b)) {
    tape.push(() => {
      const dy = y.grad;
      if (!dy) return;
      for (const t of [a, b]) {
        if (!t.requiresGrad) continue;
        const g = t.ensureGrad();
        for (let i = 0; i < n; i++) g[i]! += dy[i]!;
      }
    });
  }
  return y;
}

export function scale(tape: Tape, x: Tensor, s: number): Tensor {
  const n = x.size;
  const y = new Tensor(alloc(x, n), x.shape, x.requiresGrad);
  for (let i = 0; i < n; i++) y.data[i] = s * x.data[i]!;
  if (tape.needs(x)) {
    tape.push(() => {
      const dy = y.grad;
      if (!dy) return;
      const g = x.ensureGrad();
      for (let i = 0; i < n; i++) g[i]! += s * dy[i]!;
    });
  }
  return y;
}

export function swiglu(tape: Tape, g: Tensor, u: Tensor): Tensor {
  sameSize(g, u, 'swiglu');
  const n = g.size;
  const y = new Tensor(alloc(g, n), g.shape, g.requiresGrad || u.requiresGrad);
  const gd = g.data, ud = u.data, yd = y.data;
  const keep = tape.needs(g, u);
  // σ(g) is kept (in f64, as computed) for the backward pass instead of a second exp per element
  const sig = keep ? new Float64Array(n) : null;
  for (let i = 0; i < n; i++) {
    const v = gd[i]!;
    const d = 1 + Math.exp(-v);
    yd[i] = (v / d) * ud[i]!;
    if (sig) sig[i] = 1 / d;
  }
  if (sig) {
    tape.push(() => {
      const dy = y.grad;
      if (!dy) return;
      const dg = g.requiresGrad ? g.ensureGrad() : null;
      const du = u.requiresGrad ? u.ensureGrad() : null;
      for (let i = 0; i < n; i++) {
        const v = gd[i]!;
        const sg = sig[i]!;
        if (du) du[i]! += dy[i]! * v * sg;
        if (dg) dg[i]! += dy[i]! * ud[i]! * sg * (1 + v * (1 - sg));
      }
    });
  }
  return y;
}

export function embedding(tape: Tape, table: Tensor, ids: ArrayLike<number>): Tensor {
  const [V, D] = table.shape as [number, number];
  const N = ids.length;
  const y = new Tensor(alloc(table, N * D), [N, D], table.requiresGrad);
  for (let n = 0; n < N; n++) {
    const id = ids[n]!;
    if (!(Number.isInteger(id) && id >= 0 && id < V)) throw new TritwiseError('E_VOCAB', 'token id outside the vocabulary', { where: `embedding (row ${n})`, expected: `0..${V - 1}`, got: id });
    y.data.set(table.data.subarray(id * D, (id + 1) * D), n * D);
  }
  if (tape.needs(table)) {
    tape.push(() => {
      const dy = y.grad;
      if (!dy) return;
      const g = table.ensureGrad();
      for (let n = 0; n < N; n++) {
        const o = ids[n]! * D;
        for (let i = 0; i < D; i++) g[o + i]! += dy[n * D + i]!;
      }
    });
  }
  return y;
}
