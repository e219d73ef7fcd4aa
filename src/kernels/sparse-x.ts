/**
 * sparse-x — EXPERIMENT, reverted in the next commit (issue 4: are csrPadI32's lane gathers
 * bound by the shuffle port?): scalar, mixed and shuffle-free gather variants of csrPadI32's
 * batch-1 loop (entries col·4, two per u32, i32 activations at CSR_X), same signature as
 * csrPadI32 but batch 1 at CSR_X only. All exact; all slower (docs/sparsity.md, "Scalar gathers").
 *   S8    8 scalar i32 accumulators (V8 spills 4 of them: stack store + reload every iteration)
 *   S2    scalar gathers into two accumulators through 4-value add trees (no spills)
 *   S16T  as S2 with u16 entry loads (movzx from memory: no split op, twice the list loads)
 *   MT    4 entries per 8 by lane inserts, 4 scalar;  MT16: the scalar 4 from u16 loads
 *   M2    6 by lane inserts, 2 scalar
 *   Z     no lane inserts: each entry by v128.load32_zero, the 8 vectors summed by i32x4.add
 *   ZL    4 by lane inserts, 4 by load32_zero + adds
 */
import { CSR_X } from './sparse';

// S8: scalar i32 gathers, 8 accumulators, u32 pair loads split by & 0xffff / >>> 16
@inline function listS8(p: usize, pe: usize): i32 {
  let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  for (; p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
    s0 += load<i32>(<usize>(w0 & 0xffff), CSR_X);
    s1 += load<i32>(<usize>(w0 >>> 16), CSR_X);
    s2 += load<i32>(<usize>(w1 & 0xffff), CSR_X);
    s3 += load<i32>(<usize>(w1 >>> 16), CSR_X);
    s4 += load<i32>(<usize>(w2 & 0xffff), CSR_X);
    s5 += load<i32>(<usize>(w2 >>> 16), CSR_X);
    s6 += load<i32>(<usize>(w3 & 0xffff), CSR_X);
    s7 += load<i32>(<usize>(w3 >>> 16), CSR_X);
  }
  return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
}

// S2: scalar i32 gathers, two accumulators fed by 4-value add trees (8 accumulators spill in V8)
@inline function listS2(p: usize, pe: usize): i32 {
  let s0 = 0, s1 = 0;
  for (; p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
    s0 += (load<i32>(<usize>(w0 & 0xffff), CSR_X) + load<i32>(<usize>(w0 >>> 16), CSR_X)) + (load<i32>(<usize>(w1 & 0xffff), CSR_X) + load<i32>(<usize>(w1 >>> 16), CSR_X));
    s1 += (load<i32>(<usize>(w2 & 0xffff), CSR_X) + load<i32>(<usize>(w2 >>> 16), CSR_X)) + (load<i32>(<usize>(w3 & 0xffff), CSR_X) + load<i32>(<usize>(w3 >>> 16), CSR_X));
  }
  return s0 + s1;
}

// MT: per 8 entries, 4 through lanes (w0, w1), 4 scalar (w2, w3) in one add tree
@inline function listMT(p: usize, pe: usize): i32 {
  let v = i32x4.splat(0);
  let s0 = 0;
  for (; p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
    let a = v128.load32_zero(<usize>(w0 & 0xffff), CSR_X);
    a = v128.load32_lane(<usize>(w0 >>> 16), a, 1, CSR_X);
    a = v128.load32_lane(<usize>(w1 & 0xffff), a, 2, CSR_X);
    a = v128.load32_lane(<usize>(w1 >>> 16), a, 3, CSR_X);
    v = i32x4.add(v, a);
    s0 += (load<i32>(<usize>(w2 & 0xffff), CSR_X) + load<i32>(<usize>(w2 >>> 16), CSR_X)) + (load<i32>(<usize>(w3 & 0xffff), CSR_X) + load<i32>(<usize>(w3 >>> 16), CSR_X));
  }
  return ((i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1)) + (i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3))) + s0;
}

// S16T: scalar i32 gathers from u16 entry loads (a load, no split op), two add-tree accumulators
@inline function listS16T(p: usize, pe: usize): i32 {
  let s0 = 0, s1 = 0;
  for (; p < pe; p += 16) {
    s0 += (load<i32>(<usize>load<u16>(p), CSR_X) + load<i32>(<usize>load<u16>(p, 2), CSR_X)) + (load<i32>(<usize>load<u16>(p, 4), CSR_X) + load<i32>(<usize>load<u16>(p, 6), CSR_X));
    s1 += (load<i32>(<usize>load<u16>(p, 8), CSR_X) + load<i32>(<usize>load<u16>(p, 10), CSR_X)) + (load<i32>(<usize>load<u16>(p, 12), CSR_X) + load<i32>(<usize>load<u16>(p, 14), CSR_X));
  }
  return s0 + s1;
}

// MT16: per 8 entries, 4 through lanes (u32 pairs w0, w1), 4 scalar from u16 loads
@inline function listMT16(p: usize, pe: usize): i32 {
  let v = i32x4.splat(0);
  let s0 = 0;
  for (; p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4);
    let a = v128.load32_zero(<usize>(w0 & 0xffff), CSR_X);
    a = v128.load32_lane(<usize>(w0 >>> 16), a, 1, CSR_X);
    a = v128.load32_lane(<usize>(w1 & 0xffff), a, 2, CSR_X);
    a = v128.load32_lane(<usize>(w1 >>> 16), a, 3, CSR_X);
    v = i32x4.add(v, a);
    s0 += (load<i32>(<usize>load<u16>(p, 8), CSR_X) + load<i32>(<usize>load<u16>(p, 10), CSR_X)) + (load<i32>(<usize>load<u16>(p, 12), CSR_X) + load<i32>(<usize>load<u16>(p, 14), CSR_X));
  }
  return ((i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1)) + (i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3))) + s0;
}

// Z: no lane inserts: each entry by v128.load32_zero (movd/movss: a load, no shuffle µop), the 8
// vectors of an iteration summed by an i32x4.add tree (vector ALU pipes); the sum sits in lane 0
@inline function listZ(p: usize, pe: usize): i32 {
  let v = i32x4.splat(0);
  for (; p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
    const a0 = v128.load32_zero(<usize>(w0 & 0xffff), CSR_X), a1 = v128.load32_zero(<usize>(w0 >>> 16), CSR_X);
    const a2 = v128.load32_zero(<usize>(w1 & 0xffff), CSR_X), a3 = v128.load32_zero(<usize>(w1 >>> 16), CSR_X);
    const a4 = v128.load32_zero(<usize>(w2 & 0xffff), CSR_X), a5 = v128.load32_zero(<usize>(w2 >>> 16), CSR_X);
    const a6 = v128.load32_zero(<usize>(w3 & 0xffff), CSR_X), a7 = v128.load32_zero(<usize>(w3 >>> 16), CSR_X);
    v = i32x4.add(v, i32x4.add(i32x4.add(i32x4.add(a0, a1), i32x4.add(a2, a3)), i32x4.add(i32x4.add(a4, a5), i32x4.add(a6, a7))));
  }
  return i32x4.extract_lane(v, 0);
}

// ZL: half and half: w0, w1 through lane inserts, w2, w3 through load32_zero + adds
@inline function listZL(p: usize, pe: usize): i32 {
  let v = i32x4.splat(0), u = i32x4.splat(0);
  for (; p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
    let a = v128.load32_zero(<usize>(w0 & 0xffff), CSR_X);
    const b0 = v128.load32_zero(<usize>(w2 & 0xffff), CSR_X), b1 = v128.load32_zero(<usize>(w2 >>> 16), CSR_X);
    a = v128.load32_lane(<usize>(w0 >>> 16), a, 1, CSR_X);
    const b2 = v128.load32_zero(<usize>(w3 & 0xffff), CSR_X), b3 = v128.load32_zero(<usize>(w3 >>> 16), CSR_X);
    a = v128.load32_lane(<usize>(w1 & 0xffff), a, 2, CSR_X);
    a = v128.load32_lane(<usize>(w1 >>> 16), a, 3, CSR_X);
    v = i32x4.add(v, a);
    u = i32x4.add(u, i32x4.add(i32x4.add(b0, b1), i32x4.add(b2, b3)));
  }
  v = i32x4.add(v, u);
  return (i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1)) + (i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3));
}

// M2: per 16 entries (two iterations' worth when the list has them), 12 lanes + 4 scalar
@inline function listM2(p: usize, pe: usize): i32 {
  let v = i32x4.splat(0), u = i32x4.splat(0);
  let s0 = 0, s1 = 0;
  for (; p < pe; p += 16) {
    const w0 = load<u32>(p), w1 = load<u32>(p, 4), w2 = load<u32>(p, 8), w3 = load<u32>(p, 12);
    let a = v128.load32_zero(<usize>(w0 & 0xffff), CSR_X);
    let b = v128.load32_zero(<usize>(w2 & 0xffff), CSR_X);
    a = v128.load32_lane(<usize>(w0 >>> 16), a, 1, CSR_X);
    b = v128.load32_lane(<usize>(w2 >>> 16), b, 1, CSR_X);
    a = v128.load32_lane(<usize>(w1 & 0xffff), a, 2, CSR_X);
    s0 += load<i32>(<usize>(w3 & 0xffff), CSR_X);
    a = v128.load32_lane(<usize>(w1 >>> 16), a, 3, CSR_X);
    s1 += load<i32>(<usize>(w3 >>> 16), CSR_X);
    v = i32x4.add(v, a);
    u = i32x4.add(u, b);
  }
  v = i32x4.add(v, u);
  return ((i32x4.extract_lane(v, 0) + i32x4.extract_lane(v, 1)) + (i32x4.extract_lane(v, 2) + i32x4.extract_lane(v, 3))) + (s0 + s1);
}

@inline function padI32(V: i32, offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  for (let k = 0; k < nb; k++) {
    const ob = offs + (<usize>k * <usize>rows << 3);
    const first = k == 0, last = k == nb - 1;
    for (let i = r0; i < r1; i++) {
      const o = ob + (<usize>i << 3);
      const p0 = load<u32>(o), m0 = load<u32>(o, 4), m1 = load<u32>(o, 8);
      const r = load<i32>(perm + (<usize>i << 2));
      const at = part != 0 ? part + (<usize>i << 2) : out + (<usize>r << 2);
      const pa = idx + (<usize>p0 << 1), pm = idx + (<usize>m0 << 1), pe = idx + (<usize>m1 << 1);
      let s = 0;
      if (V == 1) s = listS8(pa, pm) - listS8(pm, pe);
      else if (V == 2) s = listS2(pa, pm) - listS2(pm, pe);
      else if (V == 3) s = listMT(pa, pm) - listMT(pm, pe);
      else if (V == 4) s = listM2(pa, pm) - listM2(pm, pe);
      else if (V == 5) s = listS16T(pa, pm) - listS16T(pm, pe);
      else if (V == 6) s = listMT16(pa, pm) - listMT16(pm, pe);
      else if (V == 7) s = listZ(pa, pm) - listZ(pm, pe);
      else s = listZL(pa, pm) - listZL(pm, pe);
      const v = first ? s : load<i32>(at) + s;
      store<i32>(last ? out + (<usize>r << 2) : at, v);
    }
  }
}

export function csrPadI32S8(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  padI32(1, offs, idx, perm, x, stride, batch, nb, out, part, rows, r0, r1);
}
export function csrPadI32S2(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  padI32(2, offs, idx, perm, x, stride, batch, nb, out, part, rows, r0, r1);
}
export function csrPadI32MT(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  padI32(3, offs, idx, perm, x, stride, batch, nb, out, part, rows, r0, r1);
}
export function csrPadI32M2(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  padI32(4, offs, idx, perm, x, stride, batch, nb, out, part, rows, r0, r1);
}
export function csrPadI32S16T(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  padI32(5, offs, idx, perm, x, stride, batch, nb, out, part, rows, r0, r1);
}
export function csrPadI32MT16(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  padI32(6, offs, idx, perm, x, stride, batch, nb, out, part, rows, r0, r1);
}
export function csrPadI32Z(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  padI32(7, offs, idx, perm, x, stride, batch, nb, out, part, rows, r0, r1);
}
export function csrPadI32ZL(offs: usize, idx: usize, perm: usize, x: usize, stride: i32, batch: i32, nb: i32, out: usize, part: usize, rows: i32, r0: i32, r1: i32): void {
  padI32(8, offs, idx, perm, x, stride, batch, nb, out, part, rows, r0, r1);
}
