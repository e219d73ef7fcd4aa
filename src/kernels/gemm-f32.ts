/**
 * gemm-f32 — the dense f32 matrix product the trainer (src/train) runs its large products on:
 *
 *   C[M, N] = A[M, K] · B[K, N]        all row-major, N a multiple of 4 (the host pads)
 *
 * Register tile: 4 rows of A × 8 columns of B (8 f32x4 accumulators); each k broadcasts four A
 * values and loads two B vectors, so there are no horizontal sums. Remainders: 4-column tiles,
 * then single rows. Plain mul + add (no fused multiply-add), so both builds give the same bits.
 */

export function gemmF32(a: usize, b: usize, c: usize, M: i32, N: i32, K: i32): void {
  const rowB = <usize>N << 2;
  const rowA = <usize>K << 2;
  let m = 0;
  for (; m + 4 <= M; m += 4) {
    const a0 = a + <usize>m * rowA, a1 = a0 + rowA, a2 = a1 + rowA, a3 = a2 + rowA;
    const c0 = c + <usize>m * rowB, c1 = c0 + rowB, c2 = c1 + rowB, c3 = c2 + rowB;
    let n = 0;
    for (; n + 8 <= N; n += 8) {
      const bn = b + (<usize>n << 2);
      let s00 = f32x4.splat(0), s01 = f32x4.splat(0), s10 = f32x4.splat(0), s11 = f32x4.splat(0);
      let s20 = f32x4.splat(0), s21 = f32x4.splat(0), s30 = f32x4.splat(0), s31 = f32x4.splat(0);
      for (let k = 0; k < K; k++) {
        const bp = bn + <usize>k * rowB;
        const v0 = v128.load(bp), v1 = v128.load(bp, 16);
        const ko = <usize>k << 2;
        const x0 = f32x4.splat(load<f32>(a0 + ko)), x1 = f32x4.splat(load<f32>(a1 + ko));
        const x2 = f32x4.splat(load<f32>(a2 + ko)), x3 = f32x4.splat(load<f32>(a3 + ko));
        s00 = f32x4.add(s00, f32x4.mul(x0, v0)); s01 = f32x4.add(s01, f32x4.mul(x0, v1));
        s10 = f32x4.add(s10, f32x4.mul(x1, v0)); s11 = f32x4.add(s11, f32x4.mul(x1, v1));
        s20 = f32x4.add(s20, f32x4.mul(x2, v0)); s21 = f32x4.add(s21, f32x4.mul(x2, v1));
        s30 = f32x4.add(s30, f32x4.mul(x3, v0)); s31 = f32x4.add(s31, f32x4.mul(x3, v1));
      }
      const co = <usize>n << 2;
      v128.store(c0 + co, s00); v128.store(c0 + co, s01, 16);
      v128.store(c1 + co, s10); v128.store(c1 + co, s11, 16);
      v128.store(c2 + co, s20); v128.store(c2 + co, s21, 16);
      v128.store(c3 + co, s30); v128.store(c3 + co, s31, 16);
    }
    for (; n < N; n += 4) {
      const bn = b + (<usize>n << 2);
      let s0 = f32x4.splat(0), s1 = f32x4.splat(0), s2 = f32x4.splat(0), s3 = f32x4.splat(0);
      for (let k = 0; k < K; k++) {
        const v = v128.load(bn + <usize>k * rowB);
        const ko = <usize>k << 2;
        s0 = f32x4.add(s0, f32x4.mul(f32x4.splat(load<f32>(a0 + ko)), v));
        s1 = f32x4.add(s1, f32x4.mul(f32x4.splat(load<f32>(a1 + ko)), v));
        s2 = f32x4.add(s2, f32x4.mul(f32x4.splat(load<f32>(a2 + ko)), v));
        s3 = f32x4.add(s3, f32x4.mul(f32x4.splat(load<f32>(a3 + ko)), v));
      }
      const co = <usize>n << 2;
      v128.store(c0 + co, s0);
      v128.store(c1 + co, s1);
      v128.store(c2 + co, s2);
      v128.store(c3 + co, s3);
    }
  }
  for (; m < M; m++) {
    const a0 = a + <usize>m * rowA;
    const c0 = c + <usize>m * rowB;
    for (let n = 0; n < N; n += 4) {
      const bn = b + (<usize>n << 2);
      let s = f32x4.splat(0);
      for (let k = 0; k < K; k++) s = f32x4.add(s, f32x4.mul(f32x4.splat(load<f32>(a0 + (<usize>k << 2))), v128.load(bn + <usize>k * rowB)));
      v128.store(c0 + (<usize>n << 2), s);
    }
  }
}
