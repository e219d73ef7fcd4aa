/**
 * dense-f32 — the dense f32 GEMV/GEMM baseline in the same SIMD style as the ternary kernels.
 *
 *   out[b·rows + r] = Σ_c W[r,c]·x[b,c]        for r in [r0, r1)
 *
 * W is row-major f32 with a row stride of `stride` floats (cols padded with zeros to a multiple
 * of 4); x is [batch, stride] with the same padding. GEMV (batch < 4) takes eight rows per pass
 * (then four, then one), so each activation load feeds eight rows and eight weight streams are in
 * flight. Four rows had given ~15 % more bandwidth than one; eight, on one thread, ran 1.0–1.5×
 * faster than four by median and 1.4–3× by fastest run on 32000×1536 (a vocabulary head),
 * 16000×3072, 8192×6144 and 4096×4096 (interleaved A/B on the shared machine; the sums are
 * bit-identical, each row keeping its own accumulator and order). GEMM takes tokens in tiles of
 * four so each weight vector is loaded once per tile.
 */

@inline function hsum(v: v128): f32 {
  return f32x4.extract_lane(v, 0) + f32x4.extract_lane(v, 1) + (f32x4.extract_lane(v, 2) + f32x4.extract_lane(v, 3));
}

/** Four rows of one token: out[b·rows + r..r+3]. */
@inline function rows4(w: usize, rowBytes: usize, stride: i32, xb: usize, out: usize, b: i32, rows: i32, r: i32): void {
  const w0 = w + <usize>r * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  for (let c = 0; c < stride; c += 4) {
    const o = <usize>c << 2;
    const xv = v128.load(xb + o);
    a0 = f32x4.add(a0, f32x4.mul(v128.load(w0 + o), xv));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(w1 + o), xv));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(w2 + o), xv));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(w3 + o), xv));
  }
  const o = out + ((<usize>b * rows + r) << 2);
  store<f32>(o, hsum(a0));
  store<f32>(o, hsum(a1), 4);
  store<f32>(o, hsum(a2), 8);
  store<f32>(o, hsum(a3), 12);
}

/** Eight rows of one token. */
@inline function rows8(w: usize, rowBytes: usize, stride: i32, xb: usize, out: usize, b: i32, rows: i32, r: i32): void {
  const w0 = w + <usize>r * rowBytes, w1 = w0 + rowBytes, w2 = w1 + rowBytes, w3 = w2 + rowBytes;
  const w4 = w3 + rowBytes, w5 = w4 + rowBytes, w6 = w5 + rowBytes, w7 = w6 + rowBytes;
  let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
  let a4 = f32x4.splat(0), a5 = f32x4.splat(0), a6 = f32x4.splat(0), a7 = f32x4.splat(0);
  for (let c = 0; c < stride; c += 4) {
    const o = <usize>c << 2;
    const xv = v128.load(xb + o);
    a0 = f32x4.add(a0, f32x4.mul(v128.load(w0 + o), xv));
    a1 = f32x4.add(a1, f32x4.mul(v128.load(w1 + o), xv));
    a2 = f32x4.add(a2, f32x4.mul(v128.load(w2 + o), xv));
    a3 = f32x4.add(a3, f32x4.mul(v128.load(w3 + o), xv));
    a4 = f32x4.add(a4, f32x4.mul(v128.load(w4 + o), xv));
    a5 = f32x4.add(a5, f32x4.mul(v128.load(w5 + o), xv));
    a6 = f32x4.add(a6, f32x4.mul(v128.load(w6 + o), xv));
    a7 = f32x4.add(a7, f32x4.mul(v128.load(w7 + o), xv));
  }
  const o = out + ((<usize>b * rows + r) << 2);
  store<f32>(o, hsum(a0));
  store<f32>(o, hsum(a1), 4);
  store<f32>(o, hsum(a2), 8);
  store<f32>(o, hsum(a3), 12);
  store<f32>(o, hsum(a4), 16);
  store<f32>(o, hsum(a5), 20);
  store<f32>(o, hsum(a6), 24);
  store<f32>(o, hsum(a7), 28);
}

export function denseF32(w: usize, stride: i32, x: usize, batch: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  const rowBytes = <usize>stride << 2;
  const n8 = stride & ~7;
  if (batch < 4) {
    const r8 = r1 - ((r1 - r0) & 7);
    const r4 = r1 - ((r1 - r0) & 3);
    for (let b = 0; b < batch; b++) {
      for (let r = r0; r < r8; r += 8) rows8(w, rowBytes, stride, x + <usize>b * rowBytes, out, b, rows, r);
      for (let r = r8; r < r4; r += 4) rows4(w, rowBytes, stride, x + <usize>b * rowBytes, out, b, rows, r);
    }
    r0 = r4; // the last (r1 − r0) mod 4 rows go through the general loop below
  }
  for (let r = r0; r < r1; r++) {
    const wr = w + <usize>r * rowBytes;
    let b = 0;
    for (; b + 4 <= batch; b += 4) {
      const x0 = x + <usize>b * rowBytes, x1 = x0 + rowBytes, x2 = x1 + rowBytes, x3 = x2 + rowBytes;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0), a2 = f32x4.splat(0), a3 = f32x4.splat(0);
      for (let c = 0; c < stride; c += 4) {
        const o = <usize>c << 2;
        const wv = v128.load(wr + o);
        a0 = f32x4.add(a0, f32x4.mul(wv, v128.load(x0 + o)));
        a1 = f32x4.add(a1, f32x4.mul(wv, v128.load(x1 + o)));
        a2 = f32x4.add(a2, f32x4.mul(wv, v128.load(x2 + o)));
        a3 = f32x4.add(a3, f32x4.mul(wv, v128.load(x3 + o)));
      }
      store<f32>(out + ((<usize>b * rows + r) << 2), hsum(a0));
      store<f32>(out + ((<usize>(b + 1) * rows + r) << 2), hsum(a1));
      store<f32>(out + ((<usize>(b + 2) * rows + r) << 2), hsum(a2));
      store<f32>(out + ((<usize>(b + 3) * rows + r) << 2), hsum(a3));
    }
    for (; b < batch; b++) {
      const xb = x + <usize>b * rowBytes;
      let a0 = f32x4.splat(0), a1 = f32x4.splat(0);
      let c = 0;
      for (; c < n8; c += 8) {
        const o = <usize>c << 2;
        a0 = f32x4.add(a0, f32x4.mul(v128.load(wr + o), v128.load(xb + o)));
        a1 = f32x4.add(a1, f32x4.mul(v128.load(wr + o, 16), v128.load(xb + o, 16)));
      }
      if (c < stride) a0 = f32x4.add(a0, f32x4.mul(v128.load(wr + (<usize>c << 2)), v128.load(xb + (<usize>c << 2))));
      store<f32>(out + ((<usize>b * rows + r) << 2), hsum(f32x4.add(a0, a1)));
    }
  }
}
