// dense — the dense baseline: y[b, r] = Σ_c W[r,c] · x[b,c], W in f32 (or f16 where the device
// has shader-f16; the host prepends `alias WT = vec4<f32>;` or `enable f16; alias WT = vec4<f16>;`).
// Rows are padded to whole vec4s. Same tiling as ternary-f32: R rows × T tokens per workgroup
// of WG threads (WG and T from the host prelude, as there; loops have constant bounds), consecutive threads read consecutive
// vec4s, partial sums reduced through workgroup memory by a tree.

struct Params {
  rows: u32,
  cs: u32,        // vec4s per weight row (and per activation row)
  batch: u32,
  outRow0: u32,
  outStride: u32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<WT>;
@group(0) @binding(2) var<storage, read> x: array<vec4<f32>>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const R = 4u;

var<workgroup> red: array<f32, R * T * WG>;

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let r0 = wg.x * R;
  let b0 = wg.y * T;
  let nt = min(T, p.batch - b0);
  let nr = min(R, p.rows - r0);
  var acc: array<f32, R * T>;
  for (var i = 0u; i < R * T; i++) { acc[i] = 0.0; }
  for (var k = lid; k < p.cs; k += WG) {
    var wv: array<vec4<f32>, R>;
    for (var r = 0u; r < R; r++) { wv[r] = vec4<f32>(w[min(r0 + r, p.rows - 1u) * p.cs + k]); }
    for (var t = 0u; t < T; t++) {
      if (t >= nt) { break; }
      let xv = x[(b0 + t) * p.cs + k];
      for (var r = 0u; r < R; r++) { acc[r * T + t] += dot(wv[r], xv); }
    }
  }
  for (var i = 0u; i < R * T; i++) { red[i * WG + lid] = acc[i]; }
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s = s / 2u) {
    if (lid < s) {
      for (var i = 0u; i < R * T; i++) {
        if (i % T < nt) { red[i * WG + lid] += red[i * WG + lid + s]; }
      }
    }
    workgroupBarrier();
  }
  if (lid < R * T) {
    let r = lid / T;
    let t = lid % T;
    if (r < nr && t < nt) {
      let idx = (b0 + t) * p.outStride + p.outRow0 + r0 + r;
      var s = red[lid * WG];
      if (p.accumulate == 1u) { s += y[idx]; }
      y[idx] = s;
    }
  }
}
