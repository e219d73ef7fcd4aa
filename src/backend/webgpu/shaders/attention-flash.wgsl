// attention-flash — flash-decoding: one query token over the KV cache with the online softmax,
// the keys split across workgroups (nn/attention-flash.ts is the f32 reference).
//
// `main`, workgroup (h, s): keys [s·split, (s+1)·split) of the attended range [start, pos] in
// tiles of 64 (the CPU's FLASH_BLOCK), per tile S = q·K_tileᵀ/√d:
//   m′ = max(m, rowmax(S));  P = exp(S − m′);  ℓ′ = e^(m−m′)·ℓ + rowsum(P);  O′ = e^(m−m′)·O + P·V
// and writes the partial (m, ℓ, O[d]) of its split to part[(h·maxSplits + s)·(d + 2)].
// `merge`, workgroup h: the log-sum-exp merge of the splits,
//   M = max_s m_s,  ℓ = Σ_s e^(m_s−M)·ℓ_s,  out_h = Σ_s e^(m_s−M)·O_s / ℓ
// Thread i keeps output dimensions i, i+64, i+128, i+192 (d ≤ 256).

struct Params {
  nHeads: u32,
  nKvHeads: u32,
  headDim: u32,
  kvDim: u32,
  window: u32,
  split: u32,     // keys per workgroup, a multiple of 64
  maxSplits: u32, // workgroups per head in the dispatch
  scale: f32,     // f32(1/√d)
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
@group(0) @binding(4) var<storage, read_write> part: array<f32>;
@group(0) @binding(5) var<storage, read_write> out: array<f32>;
@group(0) @binding(7) var<uniform> step: Step;

const WG = 64u;
const NEG = -3.0e38;
var<workgroup> red: array<f32, 64>;
var<workgroup> tile: array<f32, 64>;

fn range() -> vec2<u32> {
  let pos = step.pos;
  var start = 0u;
  if (p.window > 0u && pos + 1u > p.window) { start = pos + 1u - p.window; }
  return vec2<u32>(start, pos - start + 1u);
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let sp = wg.y;
  let d = p.headDim;
  let ko = (h / (p.nHeads / p.nKvHeads)) * d;
  let qo = h * d;
  let r = range();
  let start = r.x;
  let n = r.y;
  let j0 = sp * p.split;
  if (j0 >= n) { return; }
  let end = min(n, j0 + p.split);
  var m = NEG;
  var l = 0.0;
  var o: array<f32, 4>;
  for (var t = 0u; t < 4u; t++) { o[t] = 0.0; }
  for (var t0 = j0; t0 < end; t0 += WG) {
    let bn = min(WG, end - t0);
    var s = NEG;
    if (lid < bn) {
      let kb = (start + t0 + lid) * p.kvDim + ko;
      var dot = 0.0;
      for (var i = 0u; i < d; i++) { dot += q[qo + i] * kc[kb + i]; }
      s = dot * p.scale;
    }
    red[lid] = s;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w >>= 1u) {
      if (lid < w) { red[lid] = max(red[lid], red[lid + w]); }
      workgroupBarrier();
    }
    let m2 = max(m, red[0]);
    workgroupBarrier();
    let c = exp(m - m2);
    var e = 0.0;
    if (lid < bn) { e = exp(s - m2); }
    tile[lid] = e;
    red[lid] = e;
    workgroupBarrier();
    for (var w = WG / 2u; w > 0u; w >>= 1u) {
      if (lid < w) { red[lid] += red[lid + w]; }
      workgroupBarrier();
    }
    l = c * l + red[0];
    for (var t = 0u; t < 4u; t++) {
      let i = lid + t * WG;
      if (i < d) {
        var acc = c * o[t];
        for (var jj = 0u; jj < bn; jj++) { acc += tile[jj] * vc[(start + t0 + jj) * p.kvDim + ko + i]; }
        o[t] = acc;
      }
    }
    m = m2;
    workgroupBarrier();
  }
  let base = (h * p.maxSplits + sp) * (d + 2u);
  if (lid == 0u) {
    part[base] = m;
    part[base + 1u] = l;
  }
  for (var t = 0u; t < 4u; t++) {
    let i = lid + t * WG;
    if (i < d) { part[base + 2u + i] = o[t]; }
  }
}

@compute @workgroup_size(64)
fn merge(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let d = p.headDim;
  let n = range().y;
  let ns = (n + p.split - 1u) / p.split;
  let hb = h * p.maxSplits * (d + 2u);
  var M = NEG;
  for (var s = 0u; s < ns; s++) { M = max(M, part[hb + s * (d + 2u)]); }
  var l = 0.0;
  for (var s = 0u; s < ns; s++) { l += exp(part[hb + s * (d + 2u)] - M) * part[hb + s * (d + 2u) + 1u]; }
  for (var i = lid; i < d; i += WG) {
    var acc = 0.0;
    for (var s = 0u; s < ns; s++) { acc += exp(part[hb + s * (d + 2u)] - M) * part[hb + s * (d + 2u) + 2u + i]; }
    out[h * d + i] = acc / l;
  }
}
