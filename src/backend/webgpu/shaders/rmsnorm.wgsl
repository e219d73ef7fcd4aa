// rmsnorm — y = x / sqrt(mean(x²) + eps) ⊙ w, for one token (one workgroup).

struct Params {
  n: u32,
  eps: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> x: array<f32>;
@group(0) @binding(2) var<storage, read> w: array<f32>;
@group(0) @binding(3) var<storage, read_write> y: array<f32>;

const WG = 128u;
var<workgroup> red: array<f32, 128>;

@compute @workgroup_size(128)
fn main(@builtin(local_invocation_index) lid: u32) {
  var ss = 0.0;
  for (var i = lid; i < p.n; i += WG) { ss += x[i] * x[i]; }
  red[lid] = ss;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(red[0] / f32(p.n) + p.eps);
  for (var i = lid; i < p.n; i += WG) { y[i] = w[i] * (inv * x[i]); }
}
