/**
 * calibrated — the activation-weighted MSE quantizer ("calibrated").
 *
 * With per-input-column activation energy h_c = E[x_c²] from a calibration pass, the output
 * error of a row is  E[(Σ_c (w_c − α t_c) x_c)²] ≈ Σ_c h_c (w_c − α t_c)²  (columns treated as
 * uncorrelated). For a fixed α the best trit of each weight is sign(w)·[|w| > α/2], independent
 * of h, so the optimal support is again the top-k by |w|. With S_k = Σ_{top k} h|w| and
 * H_k = Σ_{top k} h, the optimal α = S_k/H_k and the error drops by S_k²/H_k; we take the k
 * maximising that, over cut points between distinct magnitudes (exact, O(n log n) per segment).
 * With h ≡ 1 this is exactly the `mse` quantizer.
 */
import { TritwiseError } from '../errors.js';
import { wordsFor } from '../tensor/bits.js';
import { TernaryTensor } from '../tensor/ternary-tensor.js';

export function quantizeCalibrated(w: Float32Array, rows: number, cols: number, h: Float64Array, opts: { groupSize?: number; name?: string } = {}): TernaryTensor {
  const name = opts.name ?? 'weights';
  if (w.length !== rows * cols) throw new TritwiseError('E_SHAPE', 'weight length does not match shape', { where: name, expected: rows * cols, got: w.length });
  if (h.length !== cols) throw new TritwiseError('E_SHAPE', 'calibration statistics do not match the input width', { where: name, expected: cols, got: h.length });
  const gs = opts.groupSize ?? 0;
  const t = TernaryTensor.zeros(rows, cols, { groupSize: gs });
  t.quantizer = 'calibrated';
  // a floor keeps never-activated columns from being ignored entirely
  let mean = 0;
  for (let c = 0; c < cols; c++) mean += h[c]!;
  mean = cols ? mean / cols : 0;
  const floor = mean > 0 ? mean * 1e-6 : 1;
  const wpr = wordsFor(cols);
  const seg = gs || cols;
  const groups = gs ? Math.ceil(cols / gs) : 1;
  const idx: number[] = [];
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < groups; g++) {
      const c0 = g * seg;
      const c1 = Math.min(cols, c0 + seg);
      idx.length = 0;
      for (let c = c0; c < c1; c++) {
        const v = w[r * cols + c]!;
        if (!Number.isFinite(v)) throw new TritwiseError('E_NONFINITE', 'non-finite weight', { where: `${name}[${r}, ${c}]`, expected: 'a finite number', got: v });
        if (v !== 0) idx.push(c);
      }
      idx.sort((a, b) => Math.abs(w[r * cols + b]!) - Math.abs(w[r * cols + a]!));
      let S = 0,
        H = 0,
        best = 0,
        bestK = 0,
        bestAlpha = 0;
      for (let k = 1; k <= idx.length; k++) {
        const c = idx[k - 1]!;
        const hc = Math.max(h[c]!, floor);
        S += hc * Math.abs(w[r * cols + c]!);
        H += hc;
        if (k < idx.length && Math.abs(w[r * cols + idx[k]!]!) === Math.abs(w[r * cols + c]!)) continue;
        const gain = (S * S) / H;
        if (gain > best) {
          best = gain;
          bestK = k;
          bestAlpha = S / H;
        }
      }
      for (let k = 0; k < bestK; k++) {
        const c = idx[k]!;
        const bit = 1 << (c & 31);
        const word = r * wpr + (c >>> 5);
        if (w[r * cols + c]! > 0) t.plus[word]! |= bit;
        else t.minus[word]! |= bit;
      }
      if (gs) t.groupScales![r * groups + g] = bestAlpha;
      else t.scales[r] = bestAlpha;
    }
  }
  return t;
}
