// trits — ternary quantization of head vectors for the popcount attention kernels (the same
// rule as nn/attention-trits.ts):
//
//   Δ = 0.4·mean|x|,  t_i = sign(x_i)·[|x_i| > Δ],  α = mean{|x_i| : t_i ≠ 0}  (0 if none)
//   depth 2: the f32 residual r = x − α·t quantized again (x ≈ α₁·t₁ + α₂·t₂)
//
// A vector's record is D·2W plane words (per depth: W words nz, then W words neg; bit i of the
// vector at bit i%32 of word ⌊i/32⌋) followed by its D scales (f32 bits): R = D·(2W + 1) words.
// Entry `main`: one thread per vector, `count` vectors of `src` row `row` (headDim apart) into
// records row·count, row·count+1, … with row = step.pos for the key cache (rowOfPos = 1; src is
// the f32 K cache) or 0 for the query heads. Sums are f32 (the CPU sums in f64: a trit can differ only when |x_i|
// lies within an f32 rounding of Δ).

struct Params {
  count: u32,    // vectors per call (nKvHeads for keys, nHeads for the query)
  headDim: u32,
  D: u32,        // depth 1 or 2
  W: u32,        // words per plane, ⌈d/32⌉
  rowOfPos: u32, // 1: records at step.pos·count (K cache); 0: records from 0 (query)
}

struct Step {
  pos: u32,
  row: u32,
  u: f32,
  temperature: f32,
  topP: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> src: array<f32>;
@group(0) @binding(2) var<storage, read_write> rec: array<u32>;
@group(0) @binding(7) var<uniform> step: Step;

const MAXD = 256u;

// quantize r[0, d) (x when first) into the plane words at o; returns α
fn quant(r: ptr<function, array<f32, 256>>, d: u32, W: u32, o: u32) -> f32 {
  var sum = 0.0;
  for (var i = 0u; i < d; i++) { sum += abs((*r)[i]); }
  let delta = 0.4 * sum / f32(d);
  for (var w = 0u; w < 2u * W; w++) { rec[o + w] = 0u; }
  var kept = 0.0;
  var cnt = 0u;
  for (var i = 0u; i < d; i++) {
    let v = (*r)[i];
    let a = abs(v);
    if (a > delta) {
      let wo = o + i / 32u;
      let bit = 1u << (i % 32u);
      rec[wo] |= bit;
      if (v < 0.0) { rec[wo + W] |= bit; }
      kept += a;
      cnt++;
    }
  }
  if (cnt == 0u) { return 0.0; }
  return kept / f32(cnt);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let v = gid.x;
  if (v >= p.count) { return; }
  let d = min(p.headDim, MAXD);
  let W = p.W;
  let R = p.D * (2u * W + 1u);
  let o = (select(0u, step.pos, p.rowOfPos == 1u) * p.count + v) * R;
  var r: array<f32, 256>;
  let so = select(0u, step.pos * p.count * p.headDim, p.rowOfPos == 1u);
  for (var i = 0u; i < d; i++) { r[i] = src[so + v * p.headDim + i]; }
  for (var t = 0u; t < p.D; t++) {
    let po = o + t * 2u * W;
    let a = quant(&r, d, W, po);
    rec[o + p.D * 2u * W + t] = bitcast<u32>(a);
    if (t + 1u < p.D) {
      for (var i = 0u; i < d; i++) {
        let bit = 1u << (i % 32u);
        if ((rec[po + i / 32u] & bit) != 0u) {
          if ((rec[po + W + i / 32u] & bit) != 0u) { r[i] = r[i] + a; } else { r[i] = r[i] - a; }
        }
      }
    }
  }
}
