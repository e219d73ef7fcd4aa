// attention — exact causal attention of the new token over this layer's KV cache, one workgroup
// per query head (grouped-query: kv head g = ⌊h / (nHeads/nKvHeads)⌋), optional sliding window:
//
//   positions j ∈ [start, pos], start = max(0, pos − window + 1) (window 0 = all)
//   s_j = q_h · k_{j,g} / √d,   a = softmax(s),   out_h = Σ_j a_j · v_{j,g}
//
// Scores go to a scratch row per head (any context length fits), the max and the sum of
// exponentials are reduced in workgroup memory, and thread i sums output dimensions i, i+WG, ….
// (Flash attention, popcount scores and the top-k hybrid are attention-flash.wgsl and
// attention-ternary.wgsl, with the same bindings: see attention.ts.)

struct Params {
  nHeads: u32,
  nKvHeads: u32,
  headDim: u32,
  kvDim: u32,
  window: u32,
  sStride: u32, // scratch floats per head (the cache length)
  scale: f32,   // 1/√d
}

struct Step {
  pos: u32,
  row: u32,
  u: f32,
  temperature: f32,
  topP: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> q: array<f32>;
@group(0) @binding(2) var<storage, read> kc: array<f32>;
@group(0) @binding(3) var<storage, read> vc: array<f32>;
@group(0) @binding(4) var<storage, read_write> scores: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<uniform> step: Step;

const WG = 64u;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let d = p.headDim;
  let ko = (h / (p.nHeads / p.nKvHeads)) * d;
  let pos = step.pos;
  var start = 0u;
  if (p.window > 0u && pos + 1u > p.window) { start = pos + 1u - p.window; }
  let n = pos - start + 1u;
  let sb = h * p.sStride;
  let qo = h * d;
  // scores and their max
  var m = -3.0e38;
  for (var j = lid; j < n; j += WG) {
    let kb = (start + j) * p.kvDim + ko;
    var dot = 0.0;
    for (var i = 0u; i < d; i++) { dot += q[qo + i] * kc[kb + i]; }
    let s = dot * p.scale;
    scores[sb + j] = s;
    m = max(m, s);
  }
  red[lid] = m;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let mx = red[0];
  workgroupBarrier();
  // exponentials and their sum
  var sum = 0.0;
  for (var j = lid; j < n; j += WG) {
    let e = exp(scores[sb + j] - mx);
    scores[sb + j] = e;
    sum += e;
  }
  red[lid] = sum;
  storageBarrier();
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let inv = 1.0 / red[0];
  // weighted sum of the values
  for (var i = lid; i < d; i += WG) {
    var o = 0.0;
    for (var j = 0u; j < n; j++) { o += scores[sb + j] * vc[(start + j) * p.kvDim + ko + i]; }
    out[qo + i] = o * inv;
  }
}
