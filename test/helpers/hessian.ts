/**
 * hessian — synthetic gptq Hessians for quantizer tests: H = XᵀX/n over n tokens whose columns
 * are correlated and unevenly active,
 *
 *   x_c = (1 + c mod period) · (A·z)_c + noise · z[(t·k + c) mod (n·k)],  z standard normal [n, k]
 */
import { randomFloats } from './arbitraries.js';

export function correlatedHessian(cols: number, n: number, seed: number, o: { k: number; period: number; noise?: number }): Float64Array {
  const { k, period, noise = 0 } = o;
  const A = randomFloats(cols * k, seed);
  const z = randomFloats(n * k, seed + 1);
  const H = new Float64Array(cols * cols);
  const x = new Float64Array(cols);
  for (let t = 0; t < n; t++) {
    for (let c = 0; c < cols; c++) {
      let s = 0;
      for (let j = 0; j < k; j++) s += A[c * k + j]! * z[t * k + j]!;
      x[c] = s * (1 + (c % period)) + (noise ? noise * z[(t * k + c) % (n * k)]! : 0);
    }
    for (let i = 0; i < cols; i++) for (let j = 0; j < cols; j++) H[i * cols + j]! += (x[i]! * x[j]!) / n;
  }
  return H;
}
