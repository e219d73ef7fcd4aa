// sample — the next token from the logits, in one workgroup (nn/sampling.ts's rules):
//
//   argmax:  the largest logit, the lowest id on ties (greedy)
//   sample:  p_i = e^(l_i/T − m) / Σ_j e^(l_j/T − m),  m = max_j l_j/T,  u = step.u ∈ [0, 1)
//     top-p = 1: the first i (in id order) whose cumulative probability exceeds u
//     top-p < 1: the nucleus is {i : p_i ≥ τ}, τ the largest value whose mass Σ_{p_j ≥ τ} p_j
//                reaches top-p; within it, walking from the most likely token down, the first
//                whose cumulative mass exceeds u·(nucleus mass). Both are found by bisection over
//                the bit patterns of positive f32 values (ordered like the numbers), each step
//                one reduction of mass(v) = Σ_{p_j ≥ v} p_j — no sort.
// The host reads back out[0] only.

struct Step {
  pos: u32,
  row: u32,
  u: f32,
  temperature: f32,
  topP: f32,
}

struct Params {
  n: u32, // vocabulary size
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> logits: array<f32>;
@group(0) @binding(2) var<storage, read_write> probs: array<f32>;
@group(0) @binding(3) var<storage, read_write> out: array<u32>;
@group(0) @binding(7) var<uniform> step: Step;

const WG = 64u;
var<workgroup> redf: array<f32, 64>;
var<workgroup> redu: array<u32, 64>;
var<workgroup> pick: u32;

fn sum_all(v: f32, lid: u32) -> f32 {
  redf[lid] = v;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { redf[lid] += redf[lid + k]; }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&redf[0]);
  workgroupBarrier();
  return r;
}

// (largest value, lowest index among equals) over the workgroup
fn best_all(v: f32, i: u32, lid: u32) -> u32 {
  redf[lid] = v;
  redu[lid] = i;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) {
      let a = redf[lid + k];
      let j = redu[lid + k];
      if (a > redf[lid] || (a == redf[lid] && j < redu[lid])) { redf[lid] = a; redu[lid] = j; }
    }
    workgroupBarrier();
  }
  let r = workgroupUniformLoad(&redu[0]);
  workgroupBarrier();
  return r;
}

fn argmax_of(lid: u32) -> u32 {
  var best = -3.4e38;
  var bi = 0xffffffffu;
  for (var i = lid; i < p.n; i += WG) {
    let v = logits[i];
    if (bi == 0xffffffffu || v > best) { best = v; bi = i; }
  }
  return best_all(best, bi, lid);
}

@compute @workgroup_size(64)
fn argmax(@builtin(local_invocation_index) lid: u32) {
  let b = argmax_of(lid);
  if (lid == 0u) { out[0] = b; }
}

// mass of the probabilities whose bits are ≥ v
fn mass(v: u32, lid: u32) -> f32 {
  var s = 0.0;
  for (var i = lid; i < p.n; i += WG) {
    let q = probs[i];
    if (bitcast<u32>(q) >= v) { s += q; }
  }
  return sum_all(s, lid);
}

@compute @workgroup_size(64)
fn sample(@builtin(local_invocation_index) lid: u32) {
  let t = step.temperature;
  let m = logits[argmax_of(lid)] / t;
  var z = 0.0;
  for (var i = lid; i < p.n; i += WG) {
    let e = exp(logits[i] / t - m);
    probs[i] = e;
    z += e;
  }
  let total = sum_all(z, lid);
  for (var i = lid; i < p.n; i += WG) { probs[i] = probs[i] / total; }
  storageBarrier();
  workgroupBarrier();
  let u = step.u;
  if (step.topP >= 1.0) {
    // cumulative sum in id order: each thread owns a contiguous chunk, thread 0 scans the chunk sums
    let chunk = (p.n + WG - 1u) / WG;
    let c0 = min(p.n, lid * chunk);
    let c1 = min(p.n, c0 + chunk);
    var cs = 0.0;
    for (var i = c0; i < c1; i++) { cs += probs[i]; }
    redf[lid] = cs;
    workgroupBarrier();
    if (lid == 0u) {
      var c = 0.0;
      var found = p.n - 1u;
      var done = false;
      for (var k = 0u; k < WG && !done; k++) {
        if (c + redf[k] > u) {
          let a = min(p.n, k * chunk);
          let b = min(p.n, a + chunk);
          for (var i = a; i < b; i++) {
            c += probs[i];
            if (c > u) { found = i; done = true; break; }
          }
        } else {
          c += redf[k];
        }
      }
      out[0] = found;
    }
    return;
  }
  // nucleus threshold τ: the largest v with mass(v) ≥ topP
  var lo = 0u;
  var hi = 0x3f800001u;
  for (var it = 0u; it < 31u; it++) {
    let mid = lo + (hi - lo) / 2u;
    if (mass(mid, lid) >= step.topP) { lo = mid; } else { hi = mid; }
  }
  let tau = lo;
  let goal = u * mass(tau, lid);
  // the most likely token whose cumulative mass (walking down from the top) exceeds target
  var lo2 = tau;
  var hi2 = 0x3f800001u;
  for (var it = 0u; it < 31u; it++) {
    let mid = lo2 + (hi2 - lo2) / 2u;
    if (mass(mid, lid) > goal) { lo2 = mid; } else { hi2 = mid; }
  }
  var bi = 0xffffffffu;
  for (var i = lid; i < p.n; i += WG) {
    if (bitcast<u32>(probs[i]) == lo2 && i < bi) { bi = i; }
  }
  redu[lid] = bi;
  workgroupBarrier();
  for (var k = WG / 2u; k > 0u; k >>= 1u) {
    if (lid < k) { redu[lid] = min(redu[lid], redu[lid + k]); }
    workgroupBarrier();
  }
  if (lid == 0u) { out[0] = select(redu[0], p.n - 1u, redu[0] == 0xffffffffu); }
}
