/**
 * attention-ternary — ternary Q·Kᵀ by popcount, and the two attentions built on it
 * (nn/attention-ternary.ts and nn/attention-trits.ts are the reference; same formulas, same f32
 * rounding of the scores, same tie rules, so both pick the same keys):
 *
 *   quantTrits      x ≈ α·t per d-vector: Δ = 0.4·mean|x|, t_i = sign(x_i)·[|x_i| > Δ],
 *                   α = mean of the kept |x_i|; record = W = ⌈d/32⌉ words nz, then W words neg;
 *                   depth D = 2 adds the trits of the f32 residual x − α·t (scores then sum the
 *                   D² popcount dots Σ_a Σ_b α_qa·α_kb·(t_qa·t_kb)/√d)
 *   ternaryScores   s_j = (c·α_k)·(t_q·t_k), c = α_q·(1/√d), with
 *                   t_q·t_k = pc(nz_q & nz_k) − 2·pc(nz_q & nz_k & (neg_q ^ neg_k))   (i64.popcnt)
 *   ternaryAttn     softmax over s (f64, max-stabilised), out = Σ a_j·v_j (f32 values)
 *   topkAttn        the k best s_j (size-k min-heap; ties: the earlier key) or, with τ ≥ 0, every
 *                   j with s_j ≥ max − τ, the `recent` latest keys always included; then exact f32
 *                   scores q·k_j/√d, f64 softmax and Σ a_j·v_j over only those keys
 * Key trits are head-major: vector (position p, kv head g) at kp + (g·cap + p)·D·2W words, its α's
 * at ks + (g·cap + p)·D; callers pass the first attended position `start` and the count n.
 */
import { axpyF32, dotF32 } from './attention';

/** Trits of the f32 vector at xv into the record rec (W words nz, W words neg); returns α. */
function quant1(xv: usize, d: i32, W: i32, rec: usize): f32 {
  let sum: f64 = 0;
  for (let i = 0; i < d; i++) sum += <f64>Mathf.abs(load<f32>(xv + (<usize>i << 2)));
  const delta: f64 = (0.4 * sum) / <f64>d;
  memory.fill(rec, 0, <usize>(2 * W) << 2);
  let kept: f64 = 0;
  let cnt = 0;
  for (let i = 0; i < d; i++) {
    const v = load<f32>(xv + (<usize>i << 2));
    const a = <f64>Mathf.abs(v);
    if (a > delta) {
      const wo = rec + (<usize>(i >>> 5) << 2);
      const bit: u32 = 1 << (i & 31);
      store<u32>(wo, load<u32>(wo) | bit);
      if (v < 0) store<u32>(wo + (<usize>W << 2), load<u32>(wo + (<usize>W << 2)) | bit);
      kept += a;
      cnt++;
    }
  }
  return cnt > 0 ? <f32>(kept / <f64>cnt) : 0;
}

/** Trit t_i (−1, 0, +1) of record rec as f32. */
@inline function tritAt(rec: usize, W: i32, i: i32): f32 {
  const wo = rec + (<usize>(i >>> 5) << 2);
  const bit: u32 = 1 << (i & 31);
  return load<u32>(wo) & bit ? (load<u32>(wo + (<usize>W << 2)) & bit ? <f32>-1 : <f32>1) : <f32>0;
}

/**
 * Quantize `count` d-vectors (x, then every xStride floats) at depth D (1, or 2: the f32
 * residual r = x − α_1·t_1 quantized again): records recWords (≥ D·2W) apart, D scales per
 * vector; tmp: d f32 of scratch (D = 2).
 */
export function quantTrits(x: usize, count: i32, d: i32, xStride: i32, planes: usize, recWords: i32, scales: usize, D: i32, tmp: usize): void {
  const W = (d + 31) >>> 5;
  for (let c = 0; c < count; c++) {
    const xv = x + (<usize>(c * xStride) << 2);
    const rec = planes + (<usize>(c * recWords) << 2);
    const sc = scales + (<usize>(c * D) << 2);
    const a = quant1(xv, d, W, rec);
    store<f32>(sc, a);
    if (D < 2) continue;
    for (let i = 0; i < d; i++) store<f32>(tmp + (<usize>i << 2), load<f32>(xv + (<usize>i << 2)) - a * tritAt(rec, W, i));
    store<f32>(sc, quant1(tmp, d, W, rec + (<usize>(2 * W) << 2)), 4);
  }
}

/** t_a·t_b of two records (W words per plane). */
@inline function tdot(a: usize, b: usize, W: i32): i32 {
  const nb = <usize>W << 2;
  let acc: i64 = 0;
  let w = 0;
  for (; w + 2 <= W; w += 2) {
    const o = <usize>w << 2;
    const nz = load<u64>(a + o) & load<u64>(b + o);
    acc += <i64>popcnt<u64>(nz) - (<i64>popcnt<u64>(nz & (load<u64>(a + nb + o) ^ load<u64>(b + nb + o))) << 1);
  }
  if (w < W) {
    const o = <usize>w << 2;
    const nz = load<u32>(a + o) & load<u32>(b + o);
    acc += <i64>popcnt<u32>(nz) - (<i64>popcnt<u32>(nz & (load<u32>(a + nb + o) ^ load<u32>(b + nb + o))) << 1);
  }
  return <i32>acc;
}

/** t_a·t_b of two 128-trit records (W = 4: nz at +0/+8, neg at +16/+24). */
@inline function dot128(a: usize, b: usize): i32 {
  const x = load<u64>(a) & load<u64>(b), y = load<u64>(a, 8) & load<u64>(b, 8);
  return <i32>(popcnt<u64>(x) + popcnt<u64>(y)) - (<i32>(popcnt<u64>(x & (load<u64>(a, 16) ^ load<u64>(b, 16))) + popcnt<u64>(y & (load<u64>(a, 24) ^ load<u64>(b, 24)))) << 1);
}

/**
 * Scores of one query (D records at qr, scales at qs) against n keys of one head (records of
 * D·2W words at kp, D scales each at ks): out[j] = Σ_a Σ_b (c_a·α_kb)·(t_qa·t_kb), c_a = α_qa·inv.
 */
@inline function headScores(qr: usize, qs: usize, inv: f32, kp: usize, ks: usize, n: i32, W: i32, D: i32, out: usize): void {
  const c = load<f32>(qs) * inv;
  if (D == 1 && W == 2) {
    // d ≤ 64: one u64 per plane, the query's kept in registers
    const qn = load<u64>(qr), qg = load<u64>(qr, 8);
    for (let j = 0; j < n; j++) {
      const r = kp + (<usize>j << 4);
      const nz = qn & load<u64>(r);
      const t = <i32>popcnt<u64>(nz) - (<i32>popcnt<u64>(nz & (qg ^ load<u64>(r, 8))) << 1);
      store<f32>(out + (<usize>j << 2), c * load<f32>(ks + (<usize>j << 2)) * <f32>t);
    }
  } else if (D == 1 && W == 4) {
    // d ≤ 128: two u64 per plane
    const qn0 = load<u64>(qr), qn1 = load<u64>(qr, 8), qg0 = load<u64>(qr, 16), qg1 = load<u64>(qr, 24);
    for (let j = 0; j < n; j++) {
      const r = kp + (<usize>j << 5);
      const a = qn0 & load<u64>(r), b = qn1 & load<u64>(r, 8);
      const t = <i32>(popcnt<u64>(a) + popcnt<u64>(b)) - (<i32>(popcnt<u64>(a & (qg0 ^ load<u64>(r, 16))) + popcnt<u64>(b & (qg1 ^ load<u64>(r, 24)))) << 1);
      store<f32>(out + (<usize>j << 2), c * load<f32>(ks + (<usize>j << 2)) * <f32>t);
    }
  } else if (D == 2 && W == 2) {
    // two-trit residual, d ≤ 64: four popcount dots per key, query planes in registers; the
    // sum runs in the generic path's order (a outer, b inner) so the f32 rounding is the same
    const qn0 = load<u64>(qr), qg0 = load<u64>(qr, 8), qn1 = load<u64>(qr, 16), qg1 = load<u64>(qr, 24);
    const c1 = load<f32>(qs, 4) * inv;
    for (let j = 0; j < n; j++) {
      const r = kp + (<usize>j << 5);
      const kn0 = load<u64>(r), kg0 = load<u64>(r, 8), kn1 = load<u64>(r, 16), kg1 = load<u64>(r, 24);
      const s0 = load<f32>(ks + (<usize>j << 3)), s1 = load<f32>(ks + (<usize>j << 3), 4);
      let z = qn0 & kn0;
      const t00 = <i32>popcnt<u64>(z) - (<i32>popcnt<u64>(z & (qg0 ^ kg0)) << 1);
      z = qn0 & kn1;
      const t01 = <i32>popcnt<u64>(z) - (<i32>popcnt<u64>(z & (qg0 ^ kg1)) << 1);
      z = qn1 & kn0;
      const t10 = <i32>popcnt<u64>(z) - (<i32>popcnt<u64>(z & (qg1 ^ kg0)) << 1);
      z = qn1 & kn1;
      const t11 = <i32>popcnt<u64>(z) - (<i32>popcnt<u64>(z & (qg1 ^ kg1)) << 1);
      let acc: f32 = 0;
      acc += c * s0 * <f32>t00;
      acc += c * s1 * <f32>t01;
      acc += c1 * s0 * <f32>t10;
      acc += c1 * s1 * <f32>t11;
      store<f32>(out + (<usize>j << 2), acc);
    }
  } else if (D == 2 && W == 4) {
    // two-trit residual, d ≤ 128: as above with two u64 per plane
    const c1 = load<f32>(qs, 4) * inv;
    for (let j = 0; j < n; j++) {
      const r = kp + (<usize>j << 6);
      const s0 = load<f32>(ks + (<usize>j << 3)), s1 = load<f32>(ks + (<usize>j << 3), 4);
      const t00 = dot128(qr, r), t01 = dot128(qr, r + 32), t10 = dot128(qr + 32, r), t11 = dot128(qr + 32, r + 32);
      let acc: f32 = 0;
      acc += c * s0 * <f32>t00;
      acc += c * s1 * <f32>t01;
      acc += c1 * s0 * <f32>t10;
      acc += c1 * s1 * <f32>t11;
      store<f32>(out + (<usize>j << 2), acc);
    }
  } else if (D == 1) {
    const rb = <usize>(2 * W) << 2;
    for (let j = 0; j < n; j++) store<f32>(out + (<usize>j << 2), c * load<f32>(ks + (<usize>j << 2)) * <f32>tdot(qr, kp + <usize>j * rb, W));
  } else {
    const rw = <usize>(2 * W) << 2;
    const rb = <usize>D * rw;
    for (let j = 0; j < n; j++) {
      const r = kp + <usize>j * rb;
      const sk = ks + (<usize>(j * D) << 2);
      let acc: f32 = 0;
      for (let a = 0; a < D; a++) {
        const ca = load<f32>(qs + (<usize>a << 2)) * inv;
        for (let b = 0; b < D; b++) acc += ca * load<f32>(sk + (<usize>b << 2)) * <f32>tdot(qr + <usize>a * rw, r + <usize>b * rw, W);
      }
      store<f32>(out + (<usize>j << 2), acc);
    }
  }
}

/**
 * Popcount scores of every query head: out[h·n + j] for keys [start, start+n). qp/qs: the query
 * heads' records and scales (quantTrits over nHeads vectors, same depth D as the keys).
 */
export function ternaryScores(qp: usize, qs: usize, kp: usize, ks: usize, cap: i32, start: i32, n: i32, nHeads: i32, nKvHeads: i32, d: i32, D: i32, out: usize): void {
  const W = (d + 31) >>> 5;
  const rb = <usize>(D * 2 * W) << 2;
  const group = nHeads / nKvHeads;
  const inv = <f32>(1.0 / Math.sqrt(<f64>d));
  for (let h = 0; h < nHeads; h++) {
    const v0 = <usize>((h / group) * cap + start);
    headScores(qp + <usize>h * rb, qs + (<usize>(h * D) << 2), inv, kp + v0 * rb, ks + (v0 * <usize>D << 2), n, W, D, out + (<usize>(h * n) << 2));
  }
}

/** out[0, d) = Σ_j (p_j/Σp)·v_{idx_j} with p_j = exp(s_j − max s) in f64; idx 0 = rows 0..n−1. */
function softmaxValues(sc: usize, idx: usize, n: i32, values: usize, kvBytes: usize, ko: usize, d: i32, out: usize): void {
  let m: f32 = -Infinity;
  for (let j = 0; j < n; j++) m = max(m, load<f32>(sc + (<usize>j << 2)));
  let sum: f64 = 0;
  for (let j = 0; j < n; j++) {
    const p = Math.exp(<f64>load<f32>(sc + (<usize>j << 2)) - <f64>m);
    store<f32>(sc + (<usize>j << 2), <f32>p);
    sum += p;
  }
  const inv = <f32>(1.0 / sum);
  memory.fill(out, 0, <usize>d << 2);
  for (let j = 0; j < n; j++) {
    const row = idx ? <usize>load<i32>(idx + (<usize>j << 2)) : <usize>j;
    axpyF32(out, load<f32>(sc + (<usize>j << 2)) * inv, values + row * kvBytes + ko, d);
  }
}

/** Attention on popcount scores; values: the n attended rows [n, nKvHeads·d]; scratch: n f32. */
export function ternaryAttn(qp: usize, qs: usize, kp: usize, ks: usize, cap: i32, start: i32, n: i32, values: usize, nHeads: i32, nKvHeads: i32, d: i32, D: i32, out: usize, scratch: usize): void {
  const W = (d + 31) >>> 5;
  const rb = <usize>(D * 2 * W) << 2;
  const group = nHeads / nKvHeads;
  const kvBytes = <usize>(nKvHeads * d) << 2;
  const inv = <f32>(1.0 / Math.sqrt(<f64>d));
  for (let h = 0; h < nHeads; h++) {
    const g = h / group;
    const v0 = <usize>(g * cap + start);
    headScores(qp + <usize>h * rb, qs + (<usize>(h * D) << 2), inv, kp + v0 * rb, ks + (v0 * <usize>D << 2), n, W, D, scratch);
    softmaxValues(scratch, 0, n, values, kvBytes, <usize>(g * d) << 2, d, out + (<usize>(h * d) << 2));
  }
}

/** (score, position) of a is weaker than b: lower score, or equal and later. */
@inline function weaker(sc: usize, a: i32, b: i32): bool {
  const x = load<f32>(sc + (<usize>a << 2)), y = load<f32>(sc + (<usize>b << 2));
  return x < y || (x == y && a > b);
}

/** The k best of sc[0, n) into idx[0, k) (k < n), by a min-heap. */
function topK(sc: usize, n: i32, k: i32, idx: usize): void {
  for (let j = 0; j < k; j++) store<i32>(idx + (<usize>j << 2), j);
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(sc, idx, k, i);
  for (let j = k; j < n; j++) {
    if (load<f32>(sc + (<usize>j << 2)) > load<f32>(sc + (<usize>load<i32>(idx) << 2))) {
      store<i32>(idx, j);
      siftDown(sc, idx, k, 0);
    }
  }
}

@inline function siftDown(sc: usize, idx: usize, k: i32, i: i32): void {
  for (;;) {
    const l = 2 * i + 1;
    if (l >= k) return;
    let c = l;
    if (l + 1 < k && weaker(sc, load<i32>(idx + (<usize>(l + 1) << 2)), load<i32>(idx + (<usize>l << 2)))) c = l + 1;
    const ic = load<i32>(idx + (<usize>c << 2)), ii = load<i32>(idx + (<usize>i << 2));
    if (!weaker(sc, ic, ii)) return;
    store<i32>(idx + (<usize>c << 2), ii);
    store<i32>(idx + (<usize>i << 2), ic);
    i = c;
  }
}

/**
 * Top-k hybrid attention. q: nHeads·d f32 (exact query), qp/qs its trits; keys/values: the n
 * attended rows (from `start`); k ≥ 1 keys per head, or tau ≥ 0 for threshold mode (tau < 0: k).
 * scratch: 2n f32/i32 + n f32.
 */
export function topkAttn(q: usize, qp: usize, qs: usize, kp: usize, ks: usize, cap: i32, start: i32, n: i32, keys: usize, values: usize, nHeads: i32, nKvHeads: i32, d: i32, D: i32, k: i32, tau: f32, recent: i32, out: usize, scratch: usize): void {
  const W = (d + 31) >>> 5;
  const rb = <usize>(D * 2 * W) << 2;
  const group = nHeads / nKvHeads;
  const kvBytes = <usize>(nKvHeads * d) << 2;
  const inv = <f32>(1.0 / Math.sqrt(<f64>d));
  const sc = scratch;
  const idx = scratch + (<usize>n << 2);
  const ex = idx + (<usize>n << 2);
  for (let h = 0; h < nHeads; h++) {
    const g = h / group;
    const v0 = <usize>(g * cap + start);
    headScores(qp + <usize>h * rb, qs + (<usize>(h * D) << 2), inv, kp + v0 * rb, ks + (v0 * <usize>D << 2), n, W, D, sc);
    // the `recent` latest keys always pass (+∞; the threshold's best is taken before)
    let m: f32 = -Infinity;
    if (tau >= 0) for (let j = 0; j < n; j++) m = max(m, load<f32>(sc + (<usize>j << 2)));
    for (let j = max(0, n - recent); j < n; j++) store<f32>(sc + (<usize>j << 2), Infinity);
    let c = 0;
    if (tau >= 0) {
      for (let j = 0; j < n; j++) if (load<f32>(sc + (<usize>j << 2)) >= m - tau) store<i32>(idx + (<usize>(c++) << 2), j);
    } else if (n <= k) {
      for (let j = 0; j < n; j++) store<i32>(idx + (<usize>j << 2), j);
      c = n;
    } else {
      topK(sc, n, k, idx);
      c = k;
    }
    const qh = q + (<usize>(h * d) << 2);
    const ko = <usize>(g * d) << 2;
    for (let t = 0; t < c; t++) store<f32>(ex + (<usize>t << 2), dotF32(qh, keys + <usize>load<i32>(idx + (<usize>t << 2)) * kvBytes + ko, d) * inv);
    softmaxValues(ex, idx, c, values, kvBytes, ko, d, out + (<usize>(h * d) << 2));
  }
}
