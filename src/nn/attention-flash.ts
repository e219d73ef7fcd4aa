/**
 * attention-flash — flash-style attention of one query token (reference, f32 arithmetic): one
 * pass over the attended keys in blocks of `FLASH_BLOCK`, never holding more than one block of
 * scores, with the online-softmax recurrence per block S (scores s_j = q·k_j/√d):
 *
 *   m′ = max(m, rowmax(S))
 *   P  = exp(S − m′)
 *   ℓ′ = e^(m−m′)·ℓ + rowsum(P)
 *   O′ = e^(m−m′)·O + P·V
 *   output = O / ℓ   (after the last block)
 *
 * Every operation is rounded to f32 (Math.fround), as the WASM SIMD kernel
 * (kernels/attention-flash.ts) computes it, so this is the f32 algorithm, not a float64 one.
 */
import type { AttentionFn } from './attention.js';
import { windowStart } from './attention-reference.js';

/** Keys per block (the WASM kernel uses the same). */
export const FLASH_BLOCK = 64;

const f = Math.fround;

export const flashAttention: AttentionFn = (q, qOff, keys, values, pos, s, out, outOff) => {
  const d = s.headDim;
  const kvDim = s.nKvHeads * d;
  const group = s.nHeads / s.nKvHeads;
  const start = windowStart(pos, s);
  const end = pos + 1;
  const scale = f(1 / Math.sqrt(d));
  const S = new Float32Array(FLASH_BLOCK);
  const O = new Float32Array(d);
  for (let h = 0; h < s.nHeads; h++) {
    const qo = qOff + h * d;
    const ko = Math.floor(h / group) * d;
    let m = -Infinity;
    let l = 0;
    O.fill(0);
    for (let b0 = start; b0 < end; b0 += FLASH_BLOCK) {
      const bn = Math.min(FLASH_BLOCK, end - b0);
      let rowmax = -Infinity;
      for (let j = 0; j < bn; j++) {
        const kb = (b0 + j) * kvDim + ko;
        let dot = 0;
        for (let i = 0; i < d; i++) dot = f(dot + f(q[qo + i]! * keys[kb + i]!));
        S[j] = f(dot * scale);
        if (S[j]! > rowmax) rowmax = S[j]!;
      }
      const m2 = Math.max(m, rowmax);
      const c = f(Math.exp(f(m - m2))); // e^(m−m′) (0 on the first block)
      let rowsum = 0;
      for (let j = 0; j < bn; j++) rowsum = f(rowsum + (S[j] = f(Math.exp(f(S[j]! - m2)))));
      l = f(f(c * l) + rowsum);
      for (let i = 0; i < d; i++) O[i] = f(c * O[i]!);
      for (let j = 0; j < bn; j++) {
        const p = S[j]!;
        const vb = (b0 + j) * kvDim + ko;
        for (let i = 0; i < d; i++) O[i] = f(O[i]! + f(p * values[vb + i]!));
      }
      m = m2;
    }
    const oo = outOff + h * d;
    for (let i = 0; i < d; i++) out[oo + i] = f(O[i]! / l);
  }
};
