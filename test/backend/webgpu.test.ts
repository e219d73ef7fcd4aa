/**
 * The webgpu backend (WGSL on Dawn; lavapipe in CI): the shared conformance suite, also with every
 * weight cut into tiny shards, plus what the suite's small random shapes do not reach — blocks of
 * 2048 all-zero columns (zero-chunk skipping), more than 64 scale groups per row (the int
 * kernel's group chunks), batches beyond one workgroup's 4 tokens — and the f16 dense baseline;
 * and the multi-trit conformance suite (d-plane weights).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../../src/quant/activation-quantizers.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';
import { backendConformance, expectClose, naiveF64, naiveIntAcc } from './conformance.js';
import { multiTritConformance } from './multi-conformance.js';

const why = await webgpuUnavailable();
if (why && process.env.CI) throw new Error(`webgpu backend unavailable in CI: ${why}`);
if (why) console.warn(`skipping webgpu tests: ${why}`);

describe.skipIf(why !== null)('webgpu', () => {
  backendConformance('webgpu', () => WebGpuBackend.create());
  // every weight cut into shards of a few rows: the per-shard launches and row offsets
  backendConformance('webgpu, 256-byte shards', () => WebGpuBackend.create({ maxBindingBytes: 256 }), { runs: 15 });
  // the matmul kernels with other workgroup sizes (the tree reduction over 32…256 lanes)
  backendConformance('webgpu, 256-thread matmul workgroups', () => WebGpuBackend.create({ matmulWorkgroup: { ternary: 256, int: 256, dense: 256 } }), { runs: 8 });
  backendConformance('webgpu, 32-thread ternary-f32 / 128-thread int and dense workgroups', () => WebGpuBackend.create({ matmulWorkgroup: { ternary: 32, int: 128, dense: 128 } }), { runs: 5 });
  // multi-trit weights: d planes, per-plane launches into one output (and per-plane int8 regions)
  multiTritConformance('webgpu', () => WebGpuBackend.create(), { runs: 20 });
  multiTritConformance('webgpu, 512-byte shards', () => WebGpuBackend.create({ maxBindingBytes: 512 }), { runs: 10 });

  describe('webgpu extras', () => {
    let be: WebGpuBackend;
    beforeAll(async () => {
      be = await WebGpuBackend.create();
    });
    afterAll(async () => {
      await be?.dispose();
    });

    it('workgroup tuning times each size, sets the fastest on the backend, and results stay within tolerance', async () => {
      const { tuneMatmulWorkgroups } = await import('../../src/eval/gpu-tune.js');
      const tb = await WebGpuBackend.create();
      try {
        const rep = await tuneMatmulWorkgroups(tb, 8, 256, { minTimeMs: 1, copies: false, sizes: [32, 128], gemvShapes: [{ wg: 256, tpr: 32 }, { wg: 64, tpr: 16 }] });
        expect(rep.gemv.map((g) => `${g.wg}/${g.tpr}`)).toEqual(['256/32', '64/16']);
        const g0 = [...rep.gemv].sort((a, b) => a.median_ms - b.median_ms)[0]!;
        expect(rep.chosen_gemv).toEqual({ wg: g0.wg, tpr: g0.tpr });
        expect(tb.ctx.gemv).toEqual(rep.chosen_gemv);
        expect(rep.results.map((r) => `${r.kernel}/${r.wg}`).sort()).toEqual(['dense-f32/128', 'dense-f32/32', 'ternary-f32/128', 'ternary-f32/32', 'ternary-i8/128', 'ternary-i8/32']);
        for (const r of rep.results) expect(r.median_ms).toBeGreaterThan(0);
        const fastest = (k: string) => rep.results.filter((r) => r.kernel === k).sort((a, b) => a.median_ms - b.median_ms)[0]!.wg;
        expect(rep.chosen).toEqual({ ternary: fastest('ternary-f32'), int: fastest('ternary-i8'), dense: fastest('dense-f32') });
        expect(tb.ctx.matmulWg).toEqual(rep.chosen);
        const rows = 5;
        const cols = 300;
        const w = randomFloats(rows * cols, 21);
        const x = randomFloats(2 * cols, 22);
        const t = quantize(w, rows, cols, 'twn').tensor;
        expectClose(await tb.matmulF32(await tb.uploadTernary(t), x, 2), naiveF64(t.toDense(), rows, cols, x, 2), 1e-5, 'tuned ternary-f32');
        const t2 = quantize(randomFloats(rows * 320, 23), rows, 320, 'twn').tensor;
        const q2 = quantizeInt8PerToken(randomFloats(320, 24), 1, 320).q;
        expect(Array.from(await tb.matmulI8(await tb.uploadTernary(t2), q2, 1))).toEqual(Array.from(naiveIntAcc(t2, q2, 1)));
      } finally {
        await tb.dispose();
      }
      await expect(WebGpuBackend.create({ matmulWorkgroup: { ternary: 100 } })).rejects.toThrow(/matmulWorkgroup\.ternary/);
    });

    it('zero-chunk skipping: rows whose 2048-column blocks are all zero, 128 scale groups, batch 9 — exact on every path', async () => {
      const rows = 37;
      const cols = 4096 + 100; // 3 blocks of 64 words, the last ragged
      const batch = 9;
      const w = randomFloats(rows * cols, 11);
      for (let r = 0; r < rows; r++) {
        for (let c = 0; c < cols; c++) {
          const block = Math.floor(c / 2048);
          if ((r % 4 === 1 && block === 0) || (r % 4 === 2 && block !== 1) || r % 4 === 3) w[r * cols + c] = 0;
        }
      }
      const x = randomFloats(batch * cols, 12);
      for (const gs of [0, 32]) {
        const t = quantize(w, rows, cols, 'twn', { groupSize: gs }).tensor;
        expect(t.groupsPerRow).toBe(gs ? 132 : 1);
        const h = await be.uploadTernary(t);
        expectClose(await be.matmulF32(h, x, batch), naiveF64(t.toDense(), rows, cols, x, batch), 1e-5, `f32 gs${gs}`);
        const q = quantizeInt8PerToken(x, batch, cols).q;
        expect(Array.from(await be.matmulI8(h, q, batch))).toEqual(Array.from(naiveIntAcc(t, q, batch)));
        const u = quantizeTernaryPerToken(x, batch, cols);
        expect(Array.from(await be.matmulTernary(h, u))).toEqual(Array.from(naiveIntAcc(t, u.toTrits(), batch)));
        be.release(h);
      }
    });

    it('extreme int8 values (±127, −128) sum exactly', async () => {
      const rows = 5;
      const cols = 333;
      const t = quantize(randomFloats(rows * cols, 3), rows, cols, 'twn').tensor;
      const q = Int8Array.from({ length: 2 * cols }, (_, i) => [127, -128, -127, 0][i % 4]!);
      const h = await be.uploadTernary(t);
      expect(Array.from(await be.matmulI8(h, q, 2))).toEqual(Array.from(naiveIntAcc(t, q, 2)));
      be.release(h);
    });

    it('the f16 dense baseline (benchmarks) is within f16 rounding where the device has shader-f16', async (ctx) => {
      if (!be.gpu.f16) return ctx.skip();
      const rows = 33;
      const cols = 70;
      const w = randomFloats(rows * cols, 5);
      const x = randomFloats(2 * cols, 6);
      const h = await be.uploadDenseAs(w, rows, cols, 'f16');
      expectClose(await be.matmulDense(h, x, 2), naiveF64(w, rows, cols, x, 2), 1e-3, 'f16 dense');
      be.release(h);
    });

    it('describes the adapter; bad options and a disposed backend are typed errors', async () => {
      const d = be.describe();
      expect(d).toMatchObject({ backend: 'webgpu', threads: 1, adapter: expect.any(String), runtime: 'node (Dawn)', driver: expect.stringMatching(/^(vulkan|opengl)$/) });
      expect(String(d.adapter).length).toBeGreaterThan(0);
      await expect(WebGpuBackend.create({ maxBindingBytes: 3 })).rejects.toMatchObject({ code: 'E_ARG' });
      await expect(WebGpuBackend.create({ driver: 'metal' as 'vulkan' })).rejects.toMatchObject({ code: 'E_ARG' });
      await expect(be.uploadDense(new Float32Array(4), 2, 3)).rejects.toMatchObject({ code: 'E_SHAPE' });
      const other = await WebGpuBackend.create();
      const h = await other.uploadTernary(quantize(randomFloats(64, 1), 2, 32, 'twn').tensor);
      await expect(be.matmulF32(h, new Float32Array(32), 1)).rejects.toMatchObject({ code: 'E_BACKEND' });
      await other.dispose();
      await other.dispose(); // twice is fine
      await expect(other.matmulF32(h, new Float32Array(32), 1)).rejects.toMatchObject({ code: 'E_BACKEND' });
    });
  });
});
