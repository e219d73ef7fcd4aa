// rope-kv — rotary position embedding of the new token's q and k at position `pos`, and the
// KV-cache write: k (rotated) and v go to row pos of this layer's cache.
//
//   θ_i = base^(−2i/d),  (a, b) ← (a·cos pθ_i − b·sin pθ_i,  a·sin pθ_i + b·cos pθ_i)
//   pairs: adjacent (x[2i], x[2i+1]) or halves (x[i], x[i + d/2])
// cos/sin come from the host's table (the same f32 values as nn/rope.ts), cs[pos·d/2 + i].
// One thread per q pair, per k pair, and per v element.

struct Params {
  nHeads: u32,
  nKvHeads: u32,
  headDim: u32,
  halves: u32, // 0: adjacent pairs, 1: halves
  kvDim: u32,
}

struct Step {
  pos: u32,
  row: u32,
  u: f32,
  temperature: f32,
  topP: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read_write> q: array<f32>;
@group(0) @binding(2) var<storage, read> k: array<f32>;
@group(0) @binding(3) var<storage, read> v: array<f32>;
@group(0) @binding(4) var<storage, read_write> kc: array<f32>;
@group(0) @binding(5) var<storage, read_write> vc: array<f32>;
@group(0) @binding(6) var<storage, read> cs: array<vec2<f32>>;
@group(0) @binding(7) var<uniform> step: Step;

fn pair(base: u32, i: u32) -> vec2<u32> {
  let half = p.headDim / 2u;
  if (p.halves == 1u) { return vec2<u32>(base + i, base + i + half); }
  return vec2<u32>(base + 2u * i, base + 2u * i + 1u);
}

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let half = p.headDim / 2u;
  let nq = p.nHeads * half;
  let nk = p.nKvHeads * half;
  let id = gid.x;
  if (id < nq + nk) {
    let isK = id >= nq;
    let j = select(id, id - nq, isK);
    let h = j / half;
    let i = j % half;
    let ab = pair(h * p.headDim, i);
    let c = cs[step.pos * half + i];
    if (isK) {
      let a = k[ab.x];
      let b = k[ab.y];
      let o = step.pos * p.kvDim;
      kc[o + ab.x] = a * c.x - b * c.y;
      kc[o + ab.y] = a * c.y + b * c.x;
    } else {
      let a = q[ab.x];
      let b = q[ab.y];
      q[ab.x] = a * c.x - b * c.y;
      q[ab.y] = a * c.y + b * c.x;
    }
  } else if (id < nq + nk + p.kvDim) {
    let e = id - nq - nk;
    vc[step.pos * p.kvDim + e] = v[e];
  }
}
