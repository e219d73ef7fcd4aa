/**
 * recompute — activation checkpointing: run a block without keeping its intermediate values, and
 * run it again during the backward pass to get them back (one extra forward of the block, memory
 * of only its inputs and output).
 *
 *   forward:   y = f(x₁ … x_k) on a tape that does not record
 *   backward:  on a fresh recording tape, x̂ᵢ = detached copies of xᵢ, ŷ = f(x̂), back-propagate
 *              ∂L/∂y through ŷ, then ∂L/∂xᵢ += ∂L/∂x̂ᵢ
 * Parameters captured by f receive their gradients directly. f must be deterministic.
 */
import { Tape } from '../tape.js';
import { Tensor } from '../tensor.js';

export function recompute(tape: Tape, inputs: Tensor[], f: (tape: Tape, inputs: Tensor[]) => Tensor): Tensor {
  if (!tape.recording) return f(tape, inputs);
  const y0 = f(new Tape(false), inputs);
  const y = new Tensor(y0.data, y0.shape, true);
  tape.push(() => {
    const dy = y.grad;
    if (!dy) return;
    const sub = new Tape(true);
    const detached = inputs.map((x) => new Tensor(x.data, x.shape, x.requiresGrad, x.name));
    const y2 = f(sub, detached);
    sub.backward(y2, dy);
    inputs.forEach((x, i) => {
      const g = detached[i]!.grad;
      if (!g || !x.requiresGrad) return;
      const gx = x.ensureGrad();
      for (let j = 0; j < g.length; j++) gx[j]! += g[j]!;
    });
  });
  return y;
}
