/**
 * The GPU attention kernels (src/backend/webgpu/attention.ts) against the CPU implementations of
 * the same `--attention` mode, on random caches filled one position at a time as the decoder
 * does (outputs checked at a sample of positions, the whole trit K cache at the end): the trit K cache and query trits equal the CPU's quantization bit for bit (scales within
 * 1e-6), top-k picks exactly the CPU's keys (repeated keys force ties: the earlier key wins),
 * and outputs are within 2e-5·max|v| of the CPU (f32 on the GPU, f64 softmax on the CPU).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { attentionLaunches, attentionSizes, type GpuAttentionShape } from '../../src/backend/webgpu/attention.js';
import { encodeDispatches, releaseDispatches } from '../../src/backend/webgpu/dispatch.js';
import { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { gpuBuffer } from '../../src/backend/webgpu/weights.js';
import { windowStart } from '../../src/nn/attention-reference.js';
import { parseAttentionMode, referenceAttention, type AttentionMode } from '../../src/nn/attention-modes.js';
import { TernaryRows, quantizeDepth, tritWords } from '../../src/nn/attention-trits.js';
import { ternaryScores, topKIndices } from '../../src/nn/attention-ternary.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const why = await webgpuUnavailable();
if (why && process.env.CI) throw new Error(`webgpu backend unavailable in CI: ${why}`);
const OUT_TOL = 2e-5;

interface Case {
  mode: string;
  shape: Omit<GpuAttentionShape, 'length'>;
  positions: number;
  /** key rows repeat with this period (ties in the popcount scores) */
  period?: number;
  split?: number;
}

const cases: Case[] = [
  { mode: 'flash', shape: { nHeads: 4, nKvHeads: 2, headDim: 16, window: 0 }, positions: 150, split: 64 },
  { mode: 'flash', shape: { nHeads: 2, nKvHeads: 2, headDim: 72, window: 40 }, positions: 90 },
  { mode: 'ternary', shape: { nHeads: 4, nKvHeads: 2, headDim: 16, window: 0 }, positions: 70 },
  { mode: 'ternary/t2', shape: { nHeads: 3, nKvHeads: 1, headDim: 40, window: 0 }, positions: 40 },
  { mode: 'topk:8', shape: { nHeads: 4, nKvHeads: 2, headDim: 16, window: 0 }, positions: 120, period: 13 },
  { mode: 'topk:5/r3', shape: { nHeads: 2, nKvHeads: 1, headDim: 64, window: 50 }, positions: 90 },
  { mode: 'topk:6/t2', shape: { nHeads: 2, nKvHeads: 2, headDim: 8, window: 0 }, positions: 60, period: 7 },
  { mode: 'topk:t=0.5/r2', shape: { nHeads: 4, nKvHeads: 4, headDim: 32, window: 0 }, positions: 50 },
];

/** The CPU's chosen key positions of head h at pos (top-k / threshold), sorted. */
function cpuPicks(mode: Extract<AttentionMode, { kind: 'topk' }>, q: Float32Array, keys: Float32Array, pos: number, s: GpuAttentionShape, h: number): number[] {
  const d = s.headDim;
  const D = mode.depth ?? 1;
  const rows = new TernaryRows(d, s.nKvHeads, D);
  for (let r = 0; r <= pos; r++) rows.set(r, keys, r * s.nKvHeads * d);
  const qp = new Uint32Array(D * 2 * tritWords(d));
  const qs = new Float32Array(D);
  quantizeDepth(q, h * d, d, D, qp, 0, qs, 0);
  const start = windowStart(pos, s);
  const n = pos - start + 1;
  const sc = new Float64Array(n);
  ternaryScores(qp, qs, rows, Math.floor(h / (s.nHeads / s.nKvHeads)), start, n, sc);
  const idx = new Int32Array(n);
  let c: number;
  const recent = mode.recent ?? 0;
  if (mode.threshold !== undefined) {
    let m = -Infinity;
    for (let j = 0; j < n; j++) m = Math.max(m, sc[j]!);
    for (let j = Math.max(0, n - recent); j < n; j++) sc[j] = Infinity;
    const cut = Math.fround(m - mode.threshold);
    c = 0;
    for (let j = 0; j < n; j++) if (sc[j]! >= cut) idx[c++] = j;
  } else {
    for (let j = Math.max(0, n - recent); j < n; j++) sc[j] = Infinity;
    c = topKIndices(sc, n, mode.k ?? 32, idx);
  }
  return Array.from(idx.subarray(0, c), (j) => start + j).sort((a, b) => a - b);
}

describe.skipIf(why !== null)('webgpu attention kernels', () => {
  let be: WebGpuBackend;
  beforeAll(async () => {
    be = await WebGpuBackend.create();
  });
  afterAll(async () => {
    await be?.dispose();
  });

  async function read(b: GPUBuffer, bytes: number): Promise<ArrayBuffer> {
    const dev = be.device;
    const size = Math.ceil(bytes / 16) * 16;
    const rb = dev.createBuffer({ size, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = dev.createCommandEncoder();
    enc.copyBufferToBuffer(b, 0, rb, 0, size);
    dev.queue.submit([enc.finish()]);
    await rb.mapAsync(GPUMapMode.READ);
    const out = rb.getMappedRange().slice(0, bytes);
    rb.destroy();
    return out;
  }

  for (const c of cases) {
    it(`${c.mode}: ${c.shape.nHeads}/${c.shape.nKvHeads} heads, d ${c.shape.headDim}, window ${c.shape.window}, ${c.positions} positions`, async () => {
      const mode = parseAttentionMode(c.mode);
      const s: GpuAttentionShape = { ...c.shape, length: c.positions };
      const d = s.headDim;
      const kvDim = s.nKvHeads * d;
      const P = c.positions;
      const keys = randomFloats(P * kvDim, 11);
      if (c.period) for (let r = c.period; r < P; r++) keys.copyWithin(r * kvDim, (r % c.period) * kvDim, (r % c.period + 1) * kvDim);
      const values = randomFloats(P * kvDim, 12);
      const dev = be.device;
      const sizes = attentionSizes(mode, s, c.split);
      const storage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
      const buf = (floats: number) => dev.createBuffer({ size: Math.max(16, Math.ceil(floats / 4) * 16), usage: storage });
      const io = {
        q: buf(s.nHeads * d),
        kc: gpuBuffer(dev, keys, storage, 'kc'),
        vc: gpuBuffer(dev, values, storage, 'vc'),
        scratch: buf(sizes.scratch),
        out: buf(s.nHeads * d),
        step: dev.createBuffer({ size: 32, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST }),
        keyTrits: sizes.keyTrits ? buf(sizes.keyTrits) : undefined,
        queryTrits: sizes.queryTrits ? buf(sizes.queryTrits) : undefined,
      };
      const launches = await attentionLaunches(be.ctx, mode, s, io, c.split);
      const ref = referenceAttention(mode);
      let vmax = 0;
      for (const v of values) vmax = Math.max(vmax, Math.abs(v));
      try {
        for (let pos = 0; pos < P; pos++) {
          const q = randomFloats(s.nHeads * d, 100 + pos);
          dev.queue.writeBuffer(io.q, 0, q as Float32Array<ArrayBuffer>);
          dev.queue.writeBuffer(io.step, 0, new Uint32Array([pos, 0, 0, 0, 0, 0, 0, 0]));
          const enc = dev.createCommandEncoder();
          const pass = enc.beginComputePass();
          encodeDispatches(pass, launches);
          pass.end();
          dev.queue.submit([enc.finish()]);
          // every position runs (filling the trit K cache); outputs are read back at a sample of them
          if (!(pos < 3 || pos % 6 === 5 || pos >= P - 2)) continue;
          const got = new Float32Array(await read(io.out, s.nHeads * d * 4));
          const want = new Float32Array(s.nHeads * d);
          ref(q, 0, keys, values, pos, s, want, 0);
          let worst = 0;
          for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
          expect(worst, `${c.mode} pos ${pos}: max |Δout|`).toBeLessThanOrEqual(OUT_TOL * vmax);
          if (mode.kind === 'ternary' || mode.kind === 'topk') {
            // the query's trits, as the CPU quantizes them
            const D = mode.depth ?? 1;
            const W = tritWords(d);
            const R = D * (2 * W + 1);
            const qt = new Uint32Array(await read(io.queryTrits!, s.nHeads * R * 4));
            for (let h = 0; h < s.nHeads; h++) {
              const qp = new Uint32Array(D * 2 * W);
              const qs = new Float32Array(D);
              quantizeDepth(q, h * d, d, D, qp, 0, qs, 0);
              expect(Array.from(qt.subarray(h * R, h * R + D * 2 * W)), `query trits h${h} pos ${pos}`).toEqual(Array.from(qp));
              const gs = new Float32Array(qt.buffer, (h * R + D * 2 * W) * 4, D);
              for (let a = 0; a < D; a++) expect(Math.abs(gs[a]! - qs[a]!)).toBeLessThanOrEqual(1e-6 * Math.abs(qs[a]!));
            }
          }
          if (mode.kind === 'topk') {
            const sc = new Float32Array(await read(io.scratch, s.nHeads * P * 4));
            const start = windowStart(pos, s);
            for (let h = 0; h < s.nHeads; h++) {
              const picked: number[] = [];
              for (let j = 0; j < pos - start + 1; j++) if (sc[h * P + j]! >= 0) picked.push(start + j);
              expect(picked, `${c.mode} head ${h} pos ${pos}: chosen keys`).toEqual(cpuPicks(mode, q, keys, pos, s, h));
            }
          }
        }
        if (mode.kind === 'ternary' || mode.kind === 'topk') {
          // the whole trit K cache, as the CPU's TernaryRows holds it
          const D = mode.depth ?? 1;
          const W = tritWords(d);
          const R = D * (2 * W + 1);
          const kt = new Uint32Array(await read(io.keyTrits!, P * s.nKvHeads * R * 4));
          const rows = new TernaryRows(d, s.nKvHeads, D);
          for (let r = 0; r < P; r++) rows.set(r, keys, r * kvDim);
          for (let v = 0; v < P * s.nKvHeads; v++) {
            expect(Array.from(kt.subarray(v * R, v * R + D * 2 * W)), `key trits ${v}`).toEqual(Array.from(rows.planes.subarray(v * rows.R, (v + 1) * rows.R)));
            const ks = new Float32Array(kt.buffer, (v * R + D * 2 * W) * 4, D);
            for (let a = 0; a < D; a++) expect(Math.abs(ks[a]! - rows.scales[v * D + a]!)).toBeLessThanOrEqual(1e-6 * Math.abs(rows.scales[v * D + a]!));
          }
        }
      } finally {
        releaseDispatches(launches);
        for (const b of Object.values(io)) b?.destroy();
      }
    });
  }
});
