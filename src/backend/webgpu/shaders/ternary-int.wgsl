// ternary-int — ternary weights × int8 or × ternary activations, exact int32 sums per scale group.
//
//   MODE 0 (int8):    acc[b, r, g] = Σ_{c∈g} t[r,c] · q[b,c]
//   MODE 1 (ternary): acc[b, r, g] = Σ_{words of g} pc(w⁺&u⁺) + pc(w⁻&u⁻) − pc(w⁺&u⁻) − pc(w⁻&u⁺)
//
// int8: the 4 trits of a nibble become 4 signed bytes (+1 = 0x01, −1 = 0xFF): spread the plus
// nibble to bytes with n·0x00204081 & 0x01010101, the minus nibble likewise times 0xFF, OR them;
// then tw_dot4 (dot4I8Packed where the WGSL language feature exists) multiplies 4 byte pairs.
// q is packed 4 bytes per u32, 8 u32 per 32-column word.
// ternary: u is the activation's (plus, minus) words, 2 u32 per word.
//
// A workgroup computes R rows × T tokens × GC groups (dispatch z = chunks of GC groups). Each
// thread sums its words of one group in registers and adds them to workgroup atomics when its
// next word starts a new group, so integer sums are exact and independent of order.
// Zero skipping as in ternary-f32: blocks of 64 all-zero words are not read (block bits loaded
// once per 2048 words). WG (32…256) and T (1 for GEMV, else 4) come from the host prelude; each
// thread loads U words of its R rows before it uses any (latency), and loops over tokens have a
// constant bound so `loc` stays in registers.

struct Params {
  rows: u32,
  wpr: u32,
  groups: u32,
  wpg: u32,
  batch: u32,
  nzWords: u32,
  outRow0: u32,
  outStride: u32,
  xStride: u32, // u32s per activation row (8·wpr for int8, 2·wpr for ternary)
}

@group(0) @binding(0) var<uniform> p: Params;
@group(0) @binding(1) var<storage, read> w: array<vec2<u32>>;
@group(0) @binding(2) var<storage, read> nz: array<u32>;
@group(0) @binding(3) var<storage, read> x: array<u32>;
@group(0) @binding(4) var<storage, read_write> acc: array<i32>;

override MODE: u32 = 0u;
const U = 2u; // words per thread per iteration, all loaded before use
const R = 4u;
const GC = 64u;
const BLOCK = 64u;

var<workgroup> sh: array<atomic<i32>, R * T * GC>;

fn spread4(n: u32) -> u32 {
  return (n * 0x00204081u) & 0x01010101u;
}

fn word_dot(pm: vec2<u32>, xo: u32) -> i32 {
  if (MODE == 0u) {
    var s = 0;
    for (var j = 0u; j < 8u; j++) {
      let sh4 = 4u * j;
      let tb = spread4((pm.x >> sh4) & 15u) | (spread4((pm.y >> sh4) & 15u) * 255u);
      s += tw_dot4(tb, x[xo + j]);
    }
    return s;
  }
  let up = x[xo];
  let um = x[xo + 1u];
  return i32(countOneBits(pm.x & up) + countOneBits(pm.y & um)) - i32(countOneBits(pm.x & um) + countOneBits(pm.y & up));
}

var<private> loc: array<i32, R * T>;

fn flush(g: u32, g0: u32) {
  for (var i = 0u; i < R * T; i++) {
    if (loc[i] != 0) {
      atomicAdd(&sh[i * GC + (g - g0)], loc[i]);
      loc[i] = 0;
    }
  }
}

@compute @workgroup_size(WG)
fn main(@builtin(local_invocation_index) lid: u32, @builtin(workgroup_id) wg: vec3<u32>) {
  let r0 = wg.x * R;
  let b0 = wg.y * T;
  let nt = min(T, p.batch - b0);
  let g0 = wg.z * GC;
  let g1 = min(p.groups, g0 + GC);
  let wBeg = g0 * p.wpg;
  let wEnd = min(p.wpr, g1 * p.wpg);
  let xw = select(2u, 8u, MODE == 0u);
  for (var i = lid; i < R * T * GC; i += WG) { atomicStore(&sh[i], 0); }
  for (var i = 0u; i < R * T; i++) { loc[i] = 0; }
  workgroupBarrier();
  var cur = g0;
  let last = p.rows - 1u;
  var nzw: array<u32, R>;
  var nzi = 0xffffffffu;
  for (var base = wBeg; base < wEnd; base += WG * U) {
    var pm: array<vec2<u32>, R * U>;
    for (var u = 0u; u < U; u++) {
      let word = base + u * WG + lid;
      let wd = min(word, wEnd - 1u);
      let zb = wd / BLOCK;
      if (zb / 32u != nzi) {
        nzi = zb / 32u;
        for (var r = 0u; r < R; r++) { nzw[r] = nz[min(r0 + r, last) * p.nzWords + nzi]; }
      }
      for (var r = 0u; r < R; r++) {
        pm[u * R + r] = vec2<u32>(0u);
        if (word < wEnd && r0 + r <= last && ((nzw[r] >> (zb % 32u)) & 1u) != 0u) { pm[u * R + r] = w[(r0 + r) * p.wpr + wd]; }
      }
    }
    for (var u = 0u; u < U; u++) {
      let word = base + u * WG + lid;
      if (word >= wEnd) { break; }
      let g = word / p.wpg;
      if (g != cur) {
        flush(cur, g0);
        cur = g;
      }
      for (var r = 0u; r < R; r++) {
        let q = pm[u * R + r];
        if ((q.x | q.y) == 0u) { continue; }
        for (var t = 0u; t < T; t++) {
          if (t >= nt) { break; }
          loc[r * T + t] += word_dot(q, (b0 + t) * p.xStride + word * xw);
        }
      }
    }
  }
  flush(cur, g0);
  workgroupBarrier();
  for (var i = lid; i < R * T * GC; i += WG) {
    let slot = i / GC;
    let g = g0 + i % GC;
    let row = r0 + slot / T;
    let t = slot % T;
    if (row < p.rows && t < nt && g < g1) {
      acc[((b0 + t) * p.outStride + p.outRow0 + row) * p.groups + g] = atomicLoad(&sh[i]);
    }
  }
}
