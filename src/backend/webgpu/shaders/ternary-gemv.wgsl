// ternary-gemv — batch-1 GEMV, ternary weights × int8 or × ternary activations, for weights with
// one scale per row (no group scales). Same output as ternary-int with one group:
//
//   MODE 0 (int8):    acc[r] = Σ_c t[r,c] · q[c]                                   (exact i32)
//   MODE 1 (ternary): acc[r] = Σ_words pc(w⁺&u⁺) + pc(w⁻&u⁻) − pc(w⁺&u⁻) − pc(w⁻&u⁺)
//
// Built for memory-level parallelism on big GPUs, where ternary-int's 4-row workgroups walk a row
// in 2–3 dependent rounds of memory latency:
// - a row's planes are read as vec4<u32> = (plus, minus) of two consecutive words (16 bytes);
// - TPR threads share a row, thread l reading vec4s l, l+TPR, l+2·TPR, … (consecutive threads
//   read consecutive 16 bytes: coalesced), and a workgroup holds RW = WG/TPR rows;
// - each thread issues the loads of all its V vec4s before it uses any, so a whole matrix of
//   ≤ TPR·V vec4s per row is requested in one round trip;
// - the TPR partial sums of a row are added by a tree in workgroup memory (log₂ TPR steps);
//   integer sums are exact in any order, so the result equals the reference bit for bit.
// int8: as in ternary-int, nibble j of the planes becomes 4 signed bytes (+1 = 0x01, −1 = 0xFF)
// and tw_dot4 multiplies them with activation bytes 4j..4j+3; x is 4 bytes per u32, so one word
// (32 columns) pairs with 8 u32 = 2 vec4s of x. ternary: x holds (u⁺, u⁻) per word, so one vec4 of
// x pairs with one vec4 of planes.
// Zero skipping (SKIP = 1, which the host sets when the weight has all-zero blocks): a vec4 in a
// block of 64 words (32 vec4s) whose nz bit is clear is not read.
// Entry points: `main` writes the i32 sums (acc, as ternary-int); `fused` also dequantizes, as
// dequant.wgsl's MODE 0 does with one group (gs = 1), with the same operations in the same order,
// so a decode step saves one launch per linear layer:
//   y[r] = (rs[r] · (gs[r] · f32(acc[r]))) · xs      (+ y[r] when accumulating)
// WG, TPR and V come from the host prelude (pipelines.ts). Rows must be 16-byte aligned (an even
// word count); the host runs ternary-int otherwise.

struct Params {
  rows: u32,    // rows of this shard
  vpr: u32,     // vec4s per row (words per row / 2)
  nzWords: u32, // u32 words of block bits per row
  outRow0: u32, // first output row of this shard
  accumulate: u32, // fused: 1 adds to y (residual connections)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec4<u32>>;
@group(0) @binding(2) var<storage, read> nz: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<vec4<u32>>;
@group(0) @binding(4) var<storage, read_write> acc: array<i32>;
@group(0) @binding(5) var<storage, read> scales: array<f32>; // fused: rs[rows] then gs[rows]
@group(0) @binding(6) var<storage, read> xs: array<f32>;     // fused: the activation scale
@group(0) @binding(7) var<storage, read_write> y: array<f32>; // fused: f32 outputs

override MODE: u32 = 0u;
override SKIP: u32 = 0u;
const RW = WG / TPR;

var<workgroup> red: array<i32, WG>;

fn spread4(n: u32) -> u32 {
  return (n * 0x00204081u) & 0x01010101u;
}

// the 4 signed bytes of trits 4j..4j+3 of a (plus, minus) word pair
fn bytes4(pm: vec2<u32>, j: u32) -> u32 {
  return spread4((pm.x >> (4u * j)) & 15u) | (spread4((pm.y >> (4u * j)) & 15u) * 255u);
}

// one word (32 trits) against its 32 activation bytes, x[xo] (bytes 0..15) and x[xo + 1] (16..31)
fn dot_i8(pm: vec2<u32>, xo: u32) -> i32 {
  var s = 0;
  for (var h = 0u; h < 2u; h++) {
    let a = x[xo + h];
    s += tw_dot4(bytes4(pm, 4u * h), a.x) + tw_dot4(bytes4(pm, 4u * h + 1u), a.y) + tw_dot4(bytes4(pm, 4u * h + 2u), a.z) + tw_dot4(bytes4(pm, 4u * h + 3u), a.w);
  }
  return s;
}

// one word against ternary activation words u = (u⁺, u⁻)
fn dot_t(pm: vec2<u32>, u: vec2<u32>) -> i32 {
  return i32(countOneBits(pm.x & u.x) + countOneBits(pm.y & u.y)) - i32(countOneBits(pm.x & u.y) + countOneBits(pm.y & u.x));
}

// the row's sum, in red[lid] of its lane 0 (every thread of the workgroup must call it)
fn row_sum(lid: u32, wg: vec3<u32>) {
  let lane = lid % TPR;
  let row = wg.x * RW + lid / TPR;
  let rowc = min(row, p.rows - 1u);
  let base = rowc * p.vpr;
  var s = 0;
  for (var v0 = 0u; v0 < p.vpr; v0 += TPR * V) {
    var q: array<vec4<u32>, V>;
    for (var j = 0u; j < V; j++) {
      let v = v0 + lane + j * TPR;
      var live = v < p.vpr;
      if (SKIP == 1u && live) { live = ((nz[rowc * p.nzWords + v / 1024u] >> ((v / 32u) % 32u)) & 1u) != 0u; }
      q[j] = vec4<u32>(0u);
      if (live) { q[j] = w[base + v]; }
    }
    for (var j = 0u; j < V; j++) {
      let v = v0 + lane + j * TPR;
      let qj = q[j];
      if ((qj.x | qj.y | qj.z | qj.w) == 0u) { continue; }
      if (MODE == 0u) {
        s += dot_i8(qj.xy, 4u * v) + dot_i8(qj.zw, 4u * v + 2u);
      } else {
        let u = x[v];
        s += dot_t(qj.xy, u.xy) + dot_t(qj.zw, u.zw);
      }
    }
  }
  red[lid] = s;
  workgroupBarrier();
  for (var st = TPR / 2u; st > 0u; st = st / 2u) {
    if (lane < st) { red[lid] += red[lid + st]; }
    workgroupBarrier();
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  row_sum(lid, wg);
  let row = wg.x * RW + lid / TPR;
  if (lid % TPR == 0u && row < p.rows) { acc[p.outRow0 + row] = red[lid]; }
}

@compute @workgroup_size(WG)
fn fused(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  row_sum(lid, wg);
  let row = wg.x * RW + lid / TPR;
  if (lid % TPR == 0u && row < p.rows) {
    let a = scales[p.rows + row] * f32(red[lid]);
    var v = scales[row] * a;
    v *= xs[0];
    let o = p.outRow0 + row;
    if (p.accumulate == 1u) { v += y[o]; }
    y[o] = v;
  }
}
