/**
 * sparse — ternary kernels on index lists, for weights that are mostly zeros (zero skipping
 * below the block level: at 95 % random zeros almost no 64-weight block is all zero).
 *
 * Sparse layout (built on the host from the bit planes): for row r and group g, entry
 * i = (r·G + g)·2 of `offs` (u32) starts the list of columns holding +1 and entry i + 1 the list
 * of columns holding −1; entry i + 2 ends it. `idx` holds u16 column numbers (cols ≤ 65536);
 * the `…W` variants read u32 column numbers (any width). This is src/sparse/csr.ts's CsrTrits.
 *
 *   int:  out[(b·rows + r)·G + g] = Σ_{c∈plus(r,g)} x[b,c] − Σ_{c∈minus(r,g)} x[b,c]
 *   f32:  y[b·rows + r] = rs[r] · Σ_g gs[r,g] · (same sums, in f64)
 *
 * Activations are in natural layout: int8 [batch, cols] (ternary activations expanded to int8
 * trits by prep.ts planesToI8) or f32 [batch, cols].
 */

@inline function sumI8<T>(idx: usize, a: u32, e: u32, xb: usize): i32 {
  const sh: usize = sizeof<T>() == 2 ? 1 : 2;
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = a;
  for (; i + 4 <= e; i += 4) {
    const p = idx + (<usize>i << sh);
    s0 += <i32>load<i8>(xb + <usize>load<T>(p));
    s1 += <i32>load<i8>(xb + <usize>load<T>(p + (1 << sh)));
    s2 += <i32>load<i8>(xb + <usize>load<T>(p + (2 << sh)));
    s3 += <i32>load<i8>(xb + <usize>load<T>(p + (3 << sh)));
  }
  for (; i < e; i++) s0 += <i32>load<i8>(xb + <usize>load<T>(idx + (<usize>i << sh)));
  return (s0 + s1) + (s2 + s3);
}

@inline function sumF32<T>(idx: usize, a: u32, e: u32, xb: usize): f64 {
  const sh: usize = sizeof<T>() == 2 ? 1 : 2;
  let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
  let i = a;
  for (; i + 4 <= e; i += 4) {
    const p = idx + (<usize>i << sh);
    s0 += <f64>load<f32>(xb + (<usize>load<T>(p) << 2));
    s1 += <f64>load<f32>(xb + (<usize>load<T>(p + (1 << sh)) << 2));
    s2 += <f64>load<f32>(xb + (<usize>load<T>(p + (2 << sh)) << 2));
    s3 += <f64>load<f32>(xb + (<usize>load<T>(p + (3 << sh)) << 2));
  }
  for (; i < e; i++) s0 += <f64>load<f32>(xb + (<usize>load<T>(idx + (<usize>i << sh)) << 2));
  return (s0 + s1) + (s2 + s3);
}

@inline function sparseI8T<T>(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    for (let g = 0; g < G; g++) {
      const o = offs + (<usize>((r * G + g) * 2) << 2);
      const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
      for (let b = 0; b < batch; b++) {
        const xb = x + <usize>b * cols;
        store<i32>(out + (<usize>((b * rows + r) * G + g) << 2), sumI8<T>(idx, p0, m0, xb) - sumI8<T>(idx, m0, m1, xb));
      }
    }
  }
}

@inline function sparseF32T<T>(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const rs = <f64>load<f32>(scales + (<usize>r << 2));
    for (let b = 0; b < batch; b++) {
      const xb = x + (<usize>(b * cols) << 2);
      let y: f64 = 0;
      for (let g = 0; g < G; g++) {
        const o = offs + (<usize>((r * G + g) * 2) << 2);
        const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
        const gsc: f64 = gscales != 0 ? <f64>load<f32>(gscales + (<usize>(r * G + g) << 2)) : 1.0;
        y += gsc * (sumF32<T>(idx, p0, m0, xb) - sumF32<T>(idx, m0, m1, xb));
      }
      store<f32>(out + (<usize>(b * rows + r) << 2), <f32>(y * rs));
    }
  }
}

export function sparseI8(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  sparseI8T<u16>(offs, idx, x, cols, batch, G, out, rows, r0, r1);
}

export function sparseI8W(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  sparseI8T<u32>(offs, idx, x, cols, batch, G, out, rows, r0, r1);
}

export function sparseF32(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  sparseF32T<u16>(offs, idx, x, cols, batch, G, scales, gscales, out, rows, r0, r1);
}

export function sparseF32W(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  sparseF32T<u32>(offs, idx, x, cols, batch, G, scales, gscales, out, rows, r0, r1);
}
