/**
 * cosine — hidden-state distillation: L = mean over rows of (1 − cos(a_n, b_n)), with b a fixed
 * target (the teacher's hidden states, [N, D]).
 *   cos = a·b / (|a||b|),   ∂cos/∂a = b/(|a||b|) − cos·a/|a|²
 */
import type { Tape } from '../tape.js';
import { alloc, Tensor, type FloatArray } from '../tensor.js';

export function cosineDistance(tape: Tape, a: Tensor, b: FloatArray, D: number): Tensor {
  const N = a.size / D;
  const ad = a.data;
  const cos = new Float64Array(N), na = new Float64Array(N), nb = new Float64Array(N);
  let sum = 0;
  for (let n = 0; n < N; n++) {
    let ab = 0, aa = 0, bb = 0;
    for (let i = 0; i < D; i++) {
      const x = ad[n * D + i]!, y = b[n * D + i]!;
      ab += x * y; aa += x * x; bb += y * y;
    }
    na[n] = Math.sqrt(aa) || 1e-12;
    nb[n] = Math.sqrt(bb) || 1e-12;
    cos[n] = ab / (na[n]! * nb[n]!);
    sum += 1 - cos[n]!;
  }
  const loss = new Tensor(alloc(a, 1), [], a.requiresGrad);
  loss.data[0] = N ? sum / N : 0;
  if (tape.needs(a) && N) {
    tape.push(() => {
      const g = loss.grad?.[0];
      if (!g) return;
      const da = a.ensureGrad();
      for (let n = 0; n < N; n++) {
        const k1 = -g / N / (na[n]! * nb[n]!);
        const k2 = (g / N) * (cos[n]! / (na[n]! * na[n]!));
        for (let i = 0; i < D; i++) da[n * D + i]! += k1 * b[n * D + i]! + k2 * ad[n * D + i]!;
      }
    });
  }
  return loss;
}
