/**
 * sparse — ternary kernels on index lists, for weights that are mostly zeros (zero skipping
 * below the block level: at 95 % random zeros almost no 64-weight block is all zero).
 *
 * Sparse layout (built on the host from the bit planes): for row r and group g, entry
 * i = (r·G + g)·2 of `offs` (u32) starts the list of columns holding +1 and entry i + 1 the list
 * of columns holding −1; entry i + 2 ends it. `idx` holds u16 column numbers (cols ≤ 65536).
 *
 *   int:  out[(b·rows + r)·G + g] = Σ_{c∈plus(r,g)} x[b,c] − Σ_{c∈minus(r,g)} x[b,c]
 *   f32:  y[b·rows + r] = rs[r] · Σ_g gs[r,g] · (same sums, in f64)
 *
 * Activations are in natural layout: int8 [batch, cols] (ternary activations expanded to int8
 * trits by prep.ts planesToI8) or f32 [batch, cols].
 */

@inline function sumI8(idx: usize, a: u32, e: u32, xb: usize): i32 {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
  let i = a;
  for (; i + 4 <= e; i += 4) {
    const p = idx + (<usize>i << 1);
    s0 += <i32>load<i8>(xb + <usize>load<u16>(p));
    s1 += <i32>load<i8>(xb + <usize>load<u16>(p, 2));
    s2 += <i32>load<i8>(xb + <usize>load<u16>(p, 4));
    s3 += <i32>load<i8>(xb + <usize>load<u16>(p, 6));
  }
  for (; i < e; i++) s0 += <i32>load<i8>(xb + <usize>load<u16>(idx + (<usize>i << 1)));
  return (s0 + s1) + (s2 + s3);
}

@inline function sumF32(idx: usize, a: u32, e: u32, xb: usize): f64 {
  let s0: f64 = 0, s1: f64 = 0, s2: f64 = 0, s3: f64 = 0;
  let i = a;
  for (; i + 4 <= e; i += 4) {
    const p = idx + (<usize>i << 1);
    s0 += <f64>load<f32>(xb + (<usize>load<u16>(p) << 2));
    s1 += <f64>load<f32>(xb + (<usize>load<u16>(p, 2) << 2));
    s2 += <f64>load<f32>(xb + (<usize>load<u16>(p, 4) << 2));
    s3 += <f64>load<f32>(xb + (<usize>load<u16>(p, 6) << 2));
  }
  for (; i < e; i++) s0 += <f64>load<f32>(xb + (<usize>load<u16>(idx + (<usize>i << 1)) << 2));
  return (s0 + s1) + (s2 + s3);
}

export function sparseI8(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, out: usize, rows: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    for (let g = 0; g < G; g++) {
      const o = offs + (<usize>((r * G + g) * 2) << 2);
      const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
      for (let b = 0; b < batch; b++) {
        const xb = x + <usize>b * cols;
        store<i32>(out + (<usize>((b * rows + r) * G + g) << 2), sumI8(idx, p0, m0, xb) - sumI8(idx, m0, m1, xb));
      }
    }
  }
}

export function sparseF32(offs: usize, idx: usize, x: usize, cols: i32, batch: i32, G: i32, scales: usize, gscales: usize, out: usize, rows: i32, r0: i32, r1: i32): void {
  for (let r = r0; r < r1; r++) {
    const rs = <f64>load<f32>(scales + (<usize>r << 2));
    for (let b = 0; b < batch; b++) {
      const xb = x + (<usize>(b * cols) << 2);
      let y: f64 = 0;
      for (let g = 0; g < G; g++) {
        const o = offs + (<usize>((r * G + g) * 2) << 2);
        const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
        const gsc: f64 = gscales != 0 ? <f64>load<f32>(gscales + (<usize>(r * G + g) << 2)) : 1.0;
        y += gsc * (sumF32(idx, p0, m0, xb) - sumF32(idx, m0, m1, xb));
      }
      store<f32>(out + (<usize>(b * rows + r) << 2), <f32>(y * rs));
    }
  }
}
