// ternary-f32 — ternary weights × f32 activations (GEMV when batch = 1, GEMM otherwise).
//
//   y[b, r] = rs[r] · Σ_w gs[r, g(w)] · Σ_{i<32} t[r, 32w+i] · x[b, 32w+i]
//
// W is bit planes: w[r·wpr + word] = (plus, minus) words, trit i of a word = bit i.
// The trits of 4 columns become a vec4 of signs, (plus bits) − (minus bits), so each 32-column
// word costs 8 vec4 dot products and no multiplication by a weight value.
// A workgroup of WG threads computes R rows × T tokens: thread l reads words l, l+WG, … of each
// row (consecutive threads read consecutive words: coalesced), sums in registers, then the
// R·T partial sums are reduced through workgroup memory by a tree (log₂ WG barrier steps).
// WG (32…256) and T (1 for GEMV, else 4) come from the host prelude `const WG = …u; const T = …u;`
// (pipelines.ts): a big GPU wants more threads in flight per row block than a software
// rasterizer does. Latency: each thread loads U words of each of its R rows (both planes and the
// group scale) before it uses any of them; the block bits of a row are loaded once per 2048
// words, and the row scale at the start. Every loop has a constant bound, so private arrays
// stay in registers.
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

const R = 4u;
const U = 2u;      // words per thread per iteration, all loaded before use
const BLOCK = 64u; // words per zero-skipping block

var<workgroup> red: array<f32, R * T * WG>; // R·T·WG partial sums

// the signs of trits 4j..4j+3 of a (plus, minus) word pair
fn signs4(pm: vec2<u32>, j: u32) -> vec4<f32> {
  let sh = vec4<u32>(4u * j, 4u * j + 1u, 4u * j + 2u, 4u * j + 3u);
  let pb = (vec4<u32>(pm.x) >> sh) & vec4<u32>(1u);
  let mb = (vec4<u32>(pm.y) >> sh) & vec4<u32>(1u);
  return vec4<f32>(pb) - vec4<f32>(mb);
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let r0 = wg.x * R;
  let b0 = wg.y * T;
  let nt = min(T, p.batch - b0);
  let last = p.rows - 1u;
  var acc: array<f32, R * T>;
  for (var i = 0u; i < R * T; i++) { acc[i] = 0.0; }
  var rs = 0.0;
  if (lid < R * T) { rs = scales[min(r0 + lid / T, last)]; }
  var nzw: array<u32, R>;
  var nzi = 0xffffffffu;
  for (var base = 0u; base < p.wpr; base += WG * U) {
    // loads: U words of each of the R rows (zero where the block is all zeros or past the row)
    var pm: array<vec2<u32>, R * U>;
    var gr: array<f32, R * U>;
    for (var u = 0u; u < U; u++) {
      let word = base + u * WG + lid;
      let wd = min(word, p.wpr - 1u);
      let zb = wd / BLOCK;
      if (zb / 32u != nzi) {
        nzi = zb / 32u;
        for (var r = 0u; r < R; r++) { nzw[r] = nz[min(r0 + r, last) * p.nzWords + nzi]; }
      }
      for (var r = 0u; r < R; r++) {
        let row = min(r0 + r, last);
        var v = vec2<u32>(0u);
        if (word < p.wpr && r0 + r <= last && ((nzw[r] >> (zb % 32u)) & 1u) != 0u) { v = w[row * p.wpr + wd]; }
        pm[u * R + r] = v;
        gr[u * R + r] = scales[p.rows + row * p.groups + wd / p.wpg];
      }
    }
    for (var u = 0u; u < U; u++) {
      let word = base + u * WG + lid;
      var live = false;
      for (var r = 0u; r < R; r++) { live = live || (pm[u * R + r].x | pm[u * R + r].y) != 0u; }
      if (!live) { continue; }
      for (var t = 0u; t < T; t++) {
        if (t >= nt) { break; }
        let xo = (b0 + t) * p.xStride + word * 8u;
        var xv: array<vec4<f32>, 8>;
        for (var j = 0u; j < 8u; j++) { xv[j] = x[xo + j]; }
        for (var r = 0u; r < R; r++) {
          let q = pm[u * R + r];
          if ((q.x | q.y) == 0u) { continue; }
          var s = 0.0;
          for (var j = 0u; j < 8u; j++) { s += dot(xv[j], signs4(q, j)); }
          acc[r * T + t] += gr[u * R + r] * s;
        }
      }
    }
  }
  for (var i = 0u; i < R * T; i++) { red[i * WG + lid] = acc[i]; }
  workgroupBarrier();
  // tree: after the step of stride s, red[i·WG + l] (l < s) holds the sum of lanes l, l+s, …
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      for (var i = 0u; i < R * T; i++) {
        if (i % T < nt) { red[i * WG + lid] += red[i * WG + lid + s]; }
      }
    }
    workgroupBarrier();
  }
  if (lid < R * T) {
    let row = r0 + lid / T;
    let t = lid % T;
    if (row < p.rows && t < nt) {
      let idx = (b0 + t) * p.outStride + p.outRow0 + row;
      var v = red[lid * WG] * rs;
      if (p.accumulate == 1u) { v += y[idx]; }
      y[idx] = v;
    }
  }
}
