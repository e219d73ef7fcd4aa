/**
 * tape — reverse-mode automatic differentiation by a recorded list of backward steps.
 *
 * Every op (ops/*.ts) computes its output and, when the tape is recording and an input needs a
 * gradient, pushes one closure that reads the output's gradient and adds its contribution to the
 * inputs' gradients (the chain rule, ∂L/∂x += (∂y/∂x)ᵀ·∂L/∂y). backward() seeds ∂L/∂L = 1 and runs
 * the closures newest first: an op's closure runs only after every op that used its output, so
 * its output gradient is complete. One closure per op, never per element.
 */
import { TritwiseError } from '../errors.js';
import type { Tensor } from './tensor.js';

export type BackwardFn = () => void;

export class Tape {
  #steps: BackwardFn[] = [];

  /** A non-recording tape runs ops forward only (evaluation, recomputation's first pass). */
  constructor(readonly recording = true) {}

  /** True when `inputs` need a backward step on this tape. */
  needs(...inputs: Tensor[]): boolean {
    if (!this.recording) return false;
    for (const t of inputs) if (t.requiresGrad) return true;
    return false;
  }

  push(fn: BackwardFn): void {
    if (this.recording) this.#steps.push(fn);
  }

  get length(): number {
    return this.#steps.length;
  }

  /**
   * Back-propagate from `output` (a scalar unless `seed` gives its whole gradient), then forget
   * the recorded steps so that their saved activations can be freed.
   */
  backward(output: Tensor, seed?: ArrayLike<number>): void {
    if (!this.recording) throw new TritwiseError('E_ARG', 'backward() on a tape that does not record', { where: 'Tape.backward' });
    const g = output.ensureGrad();
    if (seed) {
      if (seed.length !== g.length) throw new TritwiseError('E_SHAPE', 'seed gradient does not match the output', { where: 'Tape.backward', expected: g.length, got: seed.length });
      for (let i = 0; i < g.length; i++) g[i]! += seed[i]!;
    } else {
      if (output.size !== 1) throw new TritwiseError('E_SHAPE', 'backward() from a non-scalar needs a seed gradient', { where: 'Tape.backward', expected: 'a scalar loss', got: `[${output.shape.join(', ')}]` });
      g[0]! += 1;
    }
    const steps = this.#steps;
    this.#steps = [];
    for (let i = steps.length - 1; i >= 0; i--) {
      steps[i]!();
      steps[i] = undefined as unknown as BackwardFn;
    }
  }
}
