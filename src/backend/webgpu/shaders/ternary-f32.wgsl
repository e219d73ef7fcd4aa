// ternary-f32 — ternary weights × f32 activations (GEMV when batch = 1, GEMM otherwise).
//
//   y[b, r] = rs[r] · Σ_w gs[r, g(w)] · Σ_{i<32} t[r, 32w+i] · x[b, 32w+i]
//
// W is bit planes: w[r·wpr + word] = (plus, minus) words, trit i of a word = bit i.
// The trits of 4 columns become a vec4 of signs, (plus bits) − (minus bits), so each 32-column
// word costs 8 vec4 dot products and no multiplication by a weight value.
// A workgroup of WG threads computes R rows × T tokens: thread l reads words l, l+WG, … of each
// row (consecutive threads read consecutive words: coalesced), sums in registers, then the
// R·T partial sums are reduced through workgroup memory.
// Zero skipping: nz holds one bit per (row, block of 64 words); an all-zero block is not read,
// and an all-zero word does no arithmetic.

struct Params {
  rows: u32,       // rows of this shard
  wpr: u32,        // 32-bit words per row
  groups: u32,     // scale groups per row (1 without group scales)
  wpg: u32,        // words per group (wpr without group scales)
  batch: u32,
  nzWords: u32,    // u32 words of block bits per row
  outRow0: u32,    // first output row of this shard
  outStride: u32,  // output row stride (all rows of the weight)
  accumulate: u32, // 1: y += result (residual connections)
  xStride: u32,    // vec4s per activation row (8·wpr)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> scales: array<f32>; // rs[rows] then gs[rows·groups]
@group(0) @binding(3) var<storage, read> nz: array<u32>;
@group(0) @binding(4) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(5) var<storage, read_write> y: array<f32>;

const WG = 64u;
const R = 4u;
const T = 4u;
const BLOCK = 64u; // words per zero-skipping block

var<workgroup> red: array<f32, 1024>; // R·T·WG partial sums

// the signs of trits 4j..4j+3 of a (plus, minus) word pair
fn signs4(pm: vec2<u32>, j: u32) -> vec4<f32> {
  let sh = vec4<u32>(4u * j, 4u * j + 1u, 4u * j + 2u, 4u * j + 3u);
  let pb = (vec4<u32>(pm.x) >> sh) & vec4<u32>(1u);
  let mb = (vec4<u32>(pm.y) >> sh) & vec4<u32>(1u);
  return vec4<f32>(pb) - vec4<f32>(mb);
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let r0 = wg.x * R;
  let b0 = wg.y * T;
  let nt = min(T, p.batch - b0);
  var acc: array<f32, 16>;
  for (var i = 0u; i < R * T; i++) { acc[i] = 0.0; }
  let nblocks = (p.wpr + WG - 1u) / WG;
  for (var blk = 0u; blk < nblocks; blk++) {
    let word = blk * WG + lid;
    if (word >= p.wpr) { continue; }
    // the word of each of the R rows (zero when its block or the word itself is all zeros)
    var pm: array<vec2<u32>, 4>;
    var gr: array<f32, 4>;
    var live = false;
    let zb = word / BLOCK;
    for (var r = 0u; r < R; r++) {
      pm[r] = vec2<u32>(0u);
      gr[r] = 0.0;
      let row = r0 + r;
      if (row >= p.rows) { break; }
      if (((nz[row * p.nzWords + zb / 32u] >> (zb % 32u)) & 1u) == 0u) { continue; }
      pm[r] = w[row * p.wpr + word];
      if ((pm[r].x | pm[r].y) != 0u) {
        gr[r] = scales[p.rows + row * p.groups + word / p.wpg];
        live = true;
      }
    }
    if (!live) { continue; }
    for (var t = 0u; t < nt; t++) {
      let xo = (b0 + t) * p.xStride + word * 8u;
      var xv: array<vec4<f32>, 8>;
      for (var j = 0u; j < 8u; j++) { xv[j] = x[xo + j]; }
      for (var r = 0u; r < R; r++) {
        if ((pm[r].x | pm[r].y) == 0u) { continue; }
        var s = 0.0;
        for (var j = 0u; j < 8u; j++) { s += dot(xv[j], signs4(pm[r], j)); }
        acc[r * T + t] += gr[r] * s;
      }
    }
  }
  for (var i = 0u; i < R * T; i++) { red[i * WG + lid] = acc[i]; }
  workgroupBarrier();
  if (lid < R * T) {
    let row = r0 + lid / T;
    let t = lid % T;
    if (row < p.rows && t < nt) {
      var s = 0.0;
      for (var k = 0u; k < WG; k++) { s += red[lid * WG + k]; }
      let idx = (b0 + t) * p.outStride + p.outRow0 + row;
      var v = s * scales[row];
      if (p.accumulate == 1u) { v += y[idx]; }
      y[idx] = v;
    }
  }
}
