// act-quant — quantize one token's activations for the integer kernels (the GPU twins of
// quant/activation-quantizers.ts and quant/q8k.ts, in f32):
//
//   MODE 0 int8 absmax (BitNet):  m = max|x|, q = sign(x)·min(127, ⌊|x|·127/m + ½⌋), s[0] = m/127
//   MODE 1 Q8_K per 256-block:    max = the x of largest |x| (first on ties), iscale = −127/max,
//                                 q = min(127, round_half_even(iscale·x)), s[block] = 1/iscale
//   MODE 2 ternary (TWN):         Δ = 0.7·mean|x|, t = sign(x)·[|x| > Δ], s[0] = mean of |x| over
//                                 the support (0 if empty)
// int8 codes are packed 4 per u32 (column c in byte c%4 of word c/4), ternary as (plus, minus)
// word pairs; padding up to `words`·32 columns is written as zeros.
// MODE 0 and 2 run as one workgroup; MODE 1 as one workgroup per block.

struct Params {
  n: u32,     // columns
  words: u32, // 32-column words of the output
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read_write> q: array<u32>;
@group(0) @binding(3) var<storage, read_write> s: array<f32>;

override MODE: u32 = 0u;
const WG = 64u;
var<workgroup> redf: array<f32, 64>;
var<workgroup> redu: array<u32, 64>;

fn xat(c: u32) -> f32 {
  if (c < p.n) { return x[c]; }
  return 0.0;
}

fn sum_all(v: f32, lid: u32) -> f32 {
  redf[lid] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { redf[lid] += redf[lid + k]; }
    workgroupBarrier();
  }
  let r = redf[0];
  workgroupBarrier();
  return r;
}

fn max_all(v: f32, lid: u32) -> f32 {
  redf[lid] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { redf[lid] = max(redf[lid], redf[lid + k]); }
    workgroupBarrier();
  }
  let r = redf[0];
  workgroupBarrier();
  return r;
}

fn sign_byte(v: f32, r: f32) -> u32 {
  let b = select(i32(r), -i32(r), v < 0.0);
  return u32(b) & 255u;
}

fn int8(lid: u32) {
  var m = 0.0;
  for (var c = lid; c < p.n; c += WG) { m = max(m, abs(x[c])); }
  let mx = max_all(m, lid);
  let inv = select(0.0, 127.0 / mx, mx > 0.0);
  for (var k = lid; k < p.words * 8u; k += WG) {
    var word = 0u;
    for (var j = 0u; j < 4u; j++) {
      let v = xat(4u * k + j) * inv;
      let r = min(127.0, floor(abs(v) + 0.5));
      word |= sign_byte(v, r) << (8u * j);
    }
    q[k] = word;
  }
  if (lid == 0u) { s[0] = mx / 127.0; }
}

fn q8k(lid: u32, blk: u32) {
  // the first value of largest magnitude: reduce (|x|, index) pairs
  let c0 = blk * 256u;
  var best = 0.0;
  var bi = 0xffffffffu;
  for (var j = lid; j < 256u; j += WG) {
    let a = abs(xat(c0 + j));
    if (a > best) { best = a; bi = j; }
  }
  redf[lid] = best;
  redu[lid] = bi;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) {
      let a = redf[lid + k];
      let i = redu[lid + k];
      if (a > redf[lid] || (a == redf[lid] && i < redu[lid])) { redf[lid] = a; redu[lid] = i; }
    }
    workgroupBarrier();
  }
  let amax = redf[0];
  let mi = redu[0];
  var iscale = 0.0;
  if (amax > 0.0) { iscale = -127.0 / xat(c0 + mi); }
  for (var k = lid; k < 64u; k += WG) {
    var word = 0u;
    for (var j = 0u; j < 4u; j++) {
      let v = iscale * xat(c0 + 4u * k + j);
      let r = min(127.0, round(v));
      word |= (u32(i32(r)) & 255u) << (8u * j);
    }
    if (blk * 64u + k < p.words * 8u) { q[blk * 64u + k] = word; }
  }
  if (lid == 0u) { s[blk] = select(0.0, 1.0 / iscale, amax > 0.0); }
}

fn ternary(lid: u32) {
  var a = 0.0;
  for (var c = lid; c < p.n; c += WG) { a += abs(x[c]); }
  let delta = 0.7 * (sum_all(a, lid) / f32(p.n));
  var sup = 0.0;
  var cnt = 0.0;
  for (var k = lid; k < p.words; k += WG) {
    var plus = 0u;
    var minus = 0u;
    for (var j = 0u; j < 32u; j++) {
      let v = xat(32u * k + j);
      if (abs(v) > delta && v != 0.0) {
        if (v > 0.0) { plus |= 1u << j; } else { minus |= 1u << j; }
        sup += abs(v);
        cnt += 1.0;
      }
    }
    q[2u * k] = plus;
    q[2u * k + 1u] = minus;
  }
  let total = sum_all(sup, lid);
  let count = sum_all(cnt, lid);
  if (lid == 0u) { s[0] = select(0.0, total / count, count > 0.0); }
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  if (MODE == 0u) { int8(lid); }
  else if (MODE == 1u) { q8k(lid, wg.x); }
  else { ternary(lid); }
}
