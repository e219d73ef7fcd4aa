// dequant — integer accumulators → f32 outputs for one token (nn/linear.ts's formulas):
//
//   MODE 0 (per-token scale, int8 and ternary):  y[r] = xs · rs[r] · Σ_g gs[r,g] · acc[r,g]
//   MODE 1 (per-block scales, Q8_K):              y[r] = rs[r] · Σ_g gs[r,g] · d[g] · acc[r,g]
// `scales` is the weight shard's buffer (rs then gs); acc rows and y rows start at outRow0.

struct Params {
  rows: u32,
  groups: u32,
  outRow0: u32,
  accumulate: u32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> acc: array<i32>;
@group(0) @binding(2) var<storage, read> scales: array<f32>;
@group(0) @binding(3) var<storage, read> xs: array<f32>;
@group(0) @binding(4) var<storage, read_write> y: array<f32>;

override MODE: u32 = 0u;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let r = gid.x;
  if (r >= p.rows) { return; }
  let row = p.outRow0 + r;
  var s = 0.0;
  for (var g = 0u; g < p.groups; g++) {
    var a = scales[p.rows + r * p.groups + g] * f32(acc[row * p.groups + g]);
    if (MODE == 1u) { a *= xs[g]; }
    s += a;
  }
  var v = scales[r] * s;
  if (MODE == 0u) { v *= xs[0]; }
  if (p.accumulate == 1u) { v += y[row]; }
  y[row] = v;
}
