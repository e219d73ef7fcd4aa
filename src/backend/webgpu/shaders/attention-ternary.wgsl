// attention-ternary — attention on popcount Q·Kᵀ scores over the ternary K cache (trits.wgsl
// records), one workgroup per query head (kv head g = ⌊h/(nHeads/nKvHeads)⌋), positions
// [start, pos] (sliding window as in attention.wgsl). nn/attention-ternary.ts is the reference.
//
//   popcount score  s_j = Σ_a Σ_b (c_a·α_kb)·(t_qa·t_kb),  c_a = α_qa·(1/√d)   (f32, a outer)
//                   t·u = pc(nz_t & nz_u) − 2·pc(nz_t & nz_u & (neg_t ^ neg_u))   (countOneBits)
//   MODE 0 ternary  softmax over all s_j, out = Σ a_j·v_j
//   MODE 1 top-k    the k best s_j (ties: the earlier key), the `recent` latest keys always
//                   (their s = +∞; here 3e38); then exact scores q·k_j/√d over only those keys, softmax, Σ a·v
//   MODE 2 τ        every key with s_j ≥ max(s) − τ (max before the recent keys' +∞), then as top-k
//
// Top-k selection (per head, O(n) per pass): scores map to order-preserving u32 keys (−0 as +0);
// four 8-bit radix passes over workgroup histograms find the k-th largest key T and how many
// keys equal to T are still wanted; a last pass in position order takes every key > T and the
// first `need` keys = T (a workgroup prefix sum keeps position order), so the chosen set is the
// CPU min-heap's exactly when the scores are equal.
// The scores row holds s_j, then (MODE 1/2) the exponentials of the picked keys and −1 for the
// others — the chosen set can be read back from it.

struct Params {
  nHeads: u32,
  nKvHeads: u32,
  headDim: u32,
  kvDim: u32,
  window: u32,
  sStride: u32, // scratch floats per head (the cache length)
  scale: f32,   // f32(1/√d)
  D: u32,
  W: u32,
  k: u32,
  recent: u32,
  tau: f32,
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
@group(0) @binding(6) var<storage, read> kt: array<u32>; // K cache records [positions, nKvHeads]
@group(0) @binding(7) var<uniform> step: Step;
@group(0) @binding(8) var<storage, read> qt: array<u32>; // query records [nHeads]

override MODE: u32 = 0u;
const WG = 64u;
const NEG = -3.0e38;
const BIG = 3.0e38; // the recent keys' score (the CPU's +∞: above every real score)
var<workgroup> red: array<f32, 64>;
var<workgroup> cnt: array<u32, 64>;
var<workgroup> hist: array<atomic<u32>, 256>;
var<workgroup> pick: vec2<u32>; // (prefix of T, keys = T still wanted)

fn tdot(a: u32, b: u32, W: u32) -> i32 {
  var s = 0i;
  for (var w = 0u; w < W; w++) {
    let nz = qt[a + w] & kt[b + w];
    s += i32(countOneBits(nz)) - 2i * i32(countOneBits(nz & (qt[a + W + w] ^ kt[b + W + w])));
  }
  return s;
}

fn popScore(h: u32, g: u32, jp: u32) -> f32 {
  let W = p.W;
  let R = p.D * (2u * W + 1u);
  let qa = h * R;
  let kb = (jp * p.nKvHeads + g) * R;
  var acc = 0.0;
  for (var a = 0u; a < p.D; a++) {
    let ca = bitcast<f32>(qt[qa + p.D * 2u * W + a]) * p.scale;
    for (var b = 0u; b < p.D; b++) {
      let t = tdot(qa + a * 2u * W, kb + b * 2u * W, W);
      acc = acc + (ca * bitcast<f32>(kt[kb + p.D * 2u * W + b])) * f32(t);
    }
  }
  return acc;
}

// order-preserving u32 of an f32 (−0 maps as +0)
fn okey(s: f32) -> u32 {
  let b = bitcast<u32>(select(s, 0.0, s == 0.0));
  return select(b | 0x80000000u, ~b, (b & 0x80000000u) != 0u);
}

fn maxAll(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] = max(red[lid], red[lid + s]); }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

fn sumAll(v: f32, lid: u32) -> f32 {
  red[lid] = v;
  workgroupBarrier();
  for (var s = WG / 2u; s > 0u; s >>= 1u) {
    if (lid < s) { red[lid] += red[lid + s]; }
    workgroupBarrier();
  }
  let r = red[0];
  workgroupBarrier();
  return r;
}

@compute @workgroup_size(64)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let h = wg.x;
  let d = p.headDim;
  let g = h / (p.nHeads / p.nKvHeads);
  let ko = g * d;
  let pos = step.pos;
  var start = 0u;
  if (p.window > 0u && pos + 1u > p.window) { start = pos + 1u - p.window; }
  let n = pos - start + 1u;
  let sb = h * p.sStride;
  let qo = h * d;
  let recent0 = select(0u, n - p.recent, p.recent < n); // positions ≥ recent0 always pass
  // 1. popcount scores (and their max, before the recent keys become +∞)
  var m = NEG;
  for (var j = lid; j < n; j += WG) {
    let s = popScore(h, g, start + j);
    m = max(m, s);
    if (MODE != 0u && j >= recent0 && p.recent > 0u) { scores[sb + j] = BIG; } else { scores[sb + j] = s; }
  }
  m = maxAll(m, lid);
  storageBarrier();
  // 2. the chosen keys: okey ≥ T, and of the keys = T the first `need` (all of them for τ)
  var T = 0u;
  var need = 0xffffffffu;
  let usePop = MODE == 0u;
  let all = usePop || (MODE == 1u && n <= p.k);
  if (MODE == 2u) {
    T = okey(m - p.tau);
  } else if (!all) {
    if (lid == 0u) { pick = vec2<u32>(0u, p.k); }
    for (var rp = 0u; rp < 4u; rp++) {
      let shift = 24u - 8u * rp;
      let hiMask = select(0xffffffffu << (shift + 8u), 0u, rp == 0u);
      for (var b = lid; b < 256u; b += WG) { atomicStore(&hist[b], 0u); }
      workgroupBarrier();
      let pre = pick.x;
      for (var j = lid; j < n; j += WG) {
        let key = okey(scores[sb + j]);
        if ((key & hiMask) == pre) { atomicAdd(&hist[(key >> shift) & 255u], 1u); }
      }
      workgroupBarrier();
      if (lid == 0u) {
        var cum = 0u;
        let want = pick.y;
        for (var b = 256u; b > 0u; b--) {
          let c = atomicLoad(&hist[b - 1u]);
          if (cum + c >= want) {
            pick = vec2<u32>(pre | ((b - 1u) << shift), want - cum);
            break;
          }
          cum += c;
        }
      }
      workgroupBarrier();
    }
    T = pick.x;
    need = pick.y;
  }
  // 3. scores of the chosen keys (popcount for MODE 0, exact for top-k / τ), position order
  var taken = 0u;
  var mx = NEG;
  let nChunks = (n + WG - 1u) / WG;
  for (var c = 0u; c < nChunks; c++) {
    let j = c * WG + lid;
    var key = 0u;
    var eq = 0u;
    if (j < n) {
      key = okey(scores[sb + j]);
      if (key == T) { eq = 1u; }
    }
    // exclusive prefix count of the keys = T in this chunk
    cnt[lid] = eq;
    workgroupBarrier();
    for (var s = 1u; s < WG; s <<= 1u) {
      var add = 0u;
      if (lid >= s) { add = cnt[lid - s]; }
      workgroupBarrier();
      cnt[lid] += add;
      workgroupBarrier();
    }
    let before = taken + cnt[lid] - eq;
    taken += cnt[WG - 1u];
    workgroupBarrier();
    if (j < n) {
      var s = NEG;
      if (usePop) {
        s = scores[sb + j];
      } else if (all || key > T || (eq == 1u && before < need)) {
        let kb = (start + j) * p.kvDim + ko;
        var dot = 0.0;
        for (var i = 0u; i < d; i++) { dot += q[qo + i] * kc[kb + i]; }
        s = dot * p.scale;
      }
      scores[sb + j] = s;
      mx = max(mx, s);
    }
  }
  storageBarrier();
  mx = maxAll(mx, lid);
  // 4. softmax and the weighted values (unchosen keys: −1, skipped)
  var sum = 0.0;
  for (var j = lid; j < n; j += WG) {
    let s = scores[sb + j];
    var e = -1.0;
    if (s > NEG) { e = exp(s - mx); sum += e; }
    scores[sb + j] = e;
  }
  storageBarrier();
  let inv = 1.0 / sumAll(sum, lid);
  for (var i = lid; i < d; i += WG) {
    var o = 0.0;
    for (var j = 0u; j < n; j++) {
      let e = scores[sb + j];
      if (e >= 0.0) { o += e * vc[(start + j) * p.kvDim + ko + i]; }
    }
    out[qo + i] = o * inv;
  }
}
