// embed — x = E[token]: copy one row of the embedding (a dense weight shard, rows padded to
// `stride` floats); the host picks the shard and writes the row within it to step.row.

struct Params {
  dim: u32,
  stride: u32,
}

struct Step {
  pos: u32,
  row: u32,
  u: f32,
  temperature: f32,
  topP: f32,
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> emb: array<f32>;
@group(0) @binding(2) var<storage, read_write> x: array<f32>;
@group(0) @binding(7) var<uniform> step: Step;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3<u32>) {
  let i = gid.x;
  if (i < p.dim) { x[i] = emb[step.row * p.stride + i]; }
}
