/**
 * attention — exact causal attention of one query token (nn/attention.ts's AttentionFn) in f32
 * SIMD, for KV caches that live in the shared memory.
 *
 * For query head h (kv head g = ⌊h / (nHeads/nKvHeads)⌋), over the n attended positions j:
 *   s_j = (q_h · k_{j,g}) / √d          dot in f32x4 lanes, scaled in f64
 *   a = softmax(s)                       in f64 (max-stabilised)
 *   out_h = Σ_j a_j · v_{j,g}            f32x4 multiply-adds
 * q: nHeads·d f32; keys/values: the n attended rows [n, nKvHeads·d] f32 (from position start);
 * att: n f64 of scratch.
 * Against the f64 JavaScript reference the outputs agree to ~1e-6 relative (f32 dot products).
 */

@inline export function dotF32(a: usize, b: usize, d: i32): f32 {
  let s0 = f32x4.splat(0), s1 = f32x4.splat(0);
  let i = 0;
  for (; i + 8 <= d; i += 8) {
    const o = <usize>i << 2;
    s0 = f32x4.add(s0, f32x4.mul(v128.load(a + o), v128.load(b + o)));
    s1 = f32x4.add(s1, f32x4.mul(v128.load(a + o, 16), v128.load(b + o, 16)));
  }
  s0 = f32x4.add(s0, s1);
  let s = f32x4.extract_lane(s0, 0) + f32x4.extract_lane(s0, 1) + (f32x4.extract_lane(s0, 2) + f32x4.extract_lane(s0, 3));
  for (; i < d; i++) s += load<f32>(a + (<usize>i << 2)) * load<f32>(b + (<usize>i << 2));
  return s;
}

/** out[0, d) += a · v[0, d) */
@inline export function axpyF32(out: usize, a: f32, v: usize, d: i32): void {
  const av = f32x4.splat(a);
  let i = 0;
  for (; i + 4 <= d; i += 4) {
    const o = <usize>i << 2;
    v128.store(out + o, f32x4.add(v128.load(out + o), f32x4.mul(av, v128.load(v + o))));
  }
  for (; i < d; i++) store<f32>(out + (<usize>i << 2), load<f32>(out + (<usize>i << 2)) + a * load<f32>(v + (<usize>i << 2)));
}

export function attentionF32(q: usize, keys: usize, values: usize, n: i32, nHeads: i32, nKvHeads: i32, d: i32, out: usize, att: usize): void {
  const kvBytes = <usize>(nKvHeads * d) << 2;
  const group = nHeads / nKvHeads;
  const scale: f64 = 1.0 / Math.sqrt(<f64>d);
  for (let h = 0; h < nHeads; h++) {
    const qh = q + (<usize>(h * d) << 2);
    const ko = <usize>((h / group) * d) << 2;
    let m: f64 = -Infinity;
    for (let j = 0; j < n; j++) {
      const s = <f64>dotF32(qh, keys + <usize>j * kvBytes + ko, d) * scale;
      store<f64>(att + (<usize>j << 3), s);
      if (s > m) m = s;
    }
    let sum: f64 = 0;
    for (let j = 0; j < n; j++) {
      const e = Math.exp(load<f64>(att + (<usize>j << 3)) - m);
      store<f64>(att + (<usize>j << 3), e);
      sum += e;
    }
    const oh = out + (<usize>(h * d) << 2);
    memory.fill(oh, 0, <usize>d << 2);
    const inv: f64 = 1.0 / sum;
    for (let j = 0; j < n; j++) axpyF32(oh, <f32>(load<f64>(att + (<usize>j << 3)) * inv), values + <usize>j * kvBytes + ko, d);
  }
}
