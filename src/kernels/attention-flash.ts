/**
 * attention-flash — flash-style attention of one query token in f32 SIMD (nn/attention-flash.ts
 * is the reference), plus plain f32 Q·Kᵀ scoring (the baseline for the popcount scores).
 *
 * One pass over the n attended keys in blocks of 64, per query head h (kv head ⌊h/group⌋):
 *   S = q·K_blockᵀ/√d                 f32x4 dot products
 *   m′ = max(m, rowmax(S));  P = exp(S − m′)
 *   ℓ′ = e^(m−m′)·ℓ + rowsum(P)
 *   O′ = e^(m−m′)·O + P·V             f32x4 multiply-adds straight into the output
 *   out = O/ℓ
 * q: nHeads·d f32; keys/values: the n attended rows [n, nKvHeads·d] f32; scratch: 64 f32.
 */
import { axpyF32, dotF32 } from './attention';

const BLOCK = 64;

/** out[0, d) *= c */
@inline function scaleF32(out: usize, c: f32, d: i32): void {
  const cv = f32x4.splat(c);
  let i = 0;
  for (; i + 4 <= d; i += 4) v128.store(out + (<usize>i << 2), f32x4.mul(cv, v128.load(out + (<usize>i << 2))));
  for (; i < d; i++) store<f32>(out + (<usize>i << 2), c * load<f32>(out + (<usize>i << 2)));
}

export function flashF32(q: usize, keys: usize, values: usize, n: i32, nHeads: i32, nKvHeads: i32, d: i32, out: usize, scratch: usize): void {
  const kvBytes = <usize>(nKvHeads * d) << 2;
  const group = nHeads / nKvHeads;
  const scale = <f32>(1.0 / Math.sqrt(<f64>d));
  for (let h = 0; h < nHeads; h++) {
    const qh = q + (<usize>(h * d) << 2);
    const ko = <usize>((h / group) * d) << 2;
    const oh = out + (<usize>(h * d) << 2);
    memory.fill(oh, 0, <usize>d << 2);
    let m: f32 = -Infinity;
    let l: f32 = 0;
    for (let b0 = 0; b0 < n; b0 += BLOCK) {
      const bn = min(BLOCK, n - b0);
      let rowmax: f32 = -Infinity;
      for (let j = 0; j < bn; j++) {
        const s = dotF32(qh, keys + <usize>(b0 + j) * kvBytes + ko, d) * scale;
        store<f32>(scratch + (<usize>j << 2), s);
        rowmax = max(rowmax, s);
      }
      const m2 = max(m, rowmax);
      const c = Mathf.exp(m - m2);
      let rowsum: f32 = 0;
      for (let j = 0; j < bn; j++) {
        const p = Mathf.exp(load<f32>(scratch + (<usize>j << 2)) - m2);
        store<f32>(scratch + (<usize>j << 2), p);
        rowsum += p;
      }
      l = c * l + rowsum;
      if (c != 1) scaleF32(oh, c, d);
      for (let j = 0; j < bn; j++) axpyF32(oh, load<f32>(scratch + (<usize>j << 2)), values + <usize>(b0 + j) * kvBytes + ko, d);
      m = m2;
    }
    const lv = f32x4.splat(l);
    let i = 0;
    for (; i + 4 <= d; i += 4) v128.store(oh + (<usize>i << 2), f32x4.div(v128.load(oh + (<usize>i << 2)), lv));
    for (; i < d; i++) store<f32>(oh + (<usize>i << 2), load<f32>(oh + (<usize>i << 2)) / l);
  }
}

/** f32 scores of every query head: out[h·n + j] = q_h·k_{j,g}/√d (the baseline of popcount scoring). */
export function scoresF32(q: usize, keys: usize, n: i32, nHeads: i32, nKvHeads: i32, d: i32, out: usize): void {
  const kvBytes = <usize>(nKvHeads * d) << 2;
  const group = nHeads / nKvHeads;
  const scale = <f32>(1.0 / Math.sqrt(<f64>d));
  for (let h = 0; h < nHeads; h++) {
    const qh = q + (<usize>(h * d) << 2);
    const ko = <usize>((h / group) * d) << 2;
    const oh = out + (<usize>(h * n) << 2);
    for (let j = 0; j < n; j++) store<f32>(oh + (<usize>j << 2), dotF32(qh, keys + <usize>j * kvBytes + ko, d) * scale);
  }
}
