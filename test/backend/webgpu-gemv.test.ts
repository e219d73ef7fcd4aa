/**
 * ternary-gemv, the webgpu backend's batch-1 integer GEMV (one scale per row, even word count):
 * exact against naive integer math and against the general ternary-int kernel, for every
 * workgroup / threads-per-row shape, rows that end inside a workgroup, rows longer than one pass
 * of TPR·V vec4s, all-zero 2048-column blocks (SKIP) and shards; and when it is (not) chosen.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { usesGemv } from '../../src/backend/webgpu/matmul.js';
import type { GpuTernary } from '../../src/backend/webgpu/weights.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../../src/quant/activation-quantizers.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';
import { naiveIntAcc } from './conformance.js';

const why = await webgpuUnavailable();
if (why && process.env.CI) throw new Error(`webgpu backend unavailable in CI: ${why}`);
if (why) console.warn(`skipping webgpu gemv tests: ${why}`);

/** rows×cols weights with some all-zero 2048-column blocks (row r: block b zero when (r + b) % 3 == 0) */
function weights(rows: number, cols: number, seed: number, zeroBlocks: boolean) {
  const w = randomFloats(rows * cols, seed);
  if (zeroBlocks) for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) if ((r + Math.floor(c / 2048)) % 3 === 0) w[r * cols + c] = 0;
  return quantize(w, rows, cols, 'twn').tensor;
}

describe.skipIf(why !== null)('webgpu ternary-gemv', () => {
  const shapes: { wg: number; tpr: number }[] = [
    { wg: 256, tpr: 32 },
    { wg: 64, tpr: 8 },
    { wg: 256, tpr: 64 },
  ];
  const bes = new Map<string, WebGpuBackend>();
  let general: WebGpuBackend;
  beforeAll(async () => {
    for (const s of shapes) bes.set(`${s.wg}/${s.tpr}`, await WebGpuBackend.create({ gemv: s }));
    general = await WebGpuBackend.create({ gemv: false });
  });
  afterAll(async () => {
    for (const b of bes.values()) await b.dispose();
    await general?.dispose();
  });

  // [rows, cols, all-zero blocks, gemv shapes]: cols 64 (one vec4 per row), 2040 (ragged last
  // word), 4160 (3 blocks, the last partial), 16384 (256 vec4s: two passes of TPR·V at tpr 8,
  // V = 16); rows end inside a workgroup. (Each shape × width is a pipeline, and lavapipe takes
  // seconds to compile one, so the shapes are spread over the cases.)
  const cases: [number, number, boolean, string[]][] = [
    [1, 64, false, ['256/32']],
    [13, 2040, false, ['256/32', '64/8']],
    [37, 4160, true, ['256/32', '256/64']],
    [9, 16384, true, ['64/8']],
    [21, 16384, false, ['256/32']],
  ];
  for (const [rows, cols, zb, use] of cases) {
    it(`${rows}×${cols}${zb ? ' with all-zero blocks' : ''}: int8 and ternary equal naive integer math (gemv ${use.join(', ')}) and ternary-int`, async () => {
      const t = weights(rows, cols, rows * 7 + cols, zb);
      const x = randomFloats(cols, cols + 1);
      const q = quantizeInt8PerToken(x, 1, cols).q;
      q[0] = 127;
      if (cols > 2) (q[1] = -128), (q[2] = -127);
      const u = quantizeTernaryPerToken(x, 1, cols);
      const wantI8 = Array.from(naiveIntAcc(t, q, 1));
      const wantT = Array.from(naiveIntAcc(t, u.toTrits(), 1));
      for (const name of use) {
        const be = bes.get(name)!;
        const h = (await be.uploadTernary(t)) as GpuTernary;
        expect(usesGemv(be.ctx, h, 1), name).toBe(true);
        expect(h.zeroBlocks).toBe(zb);
        expect(Array.from(await be.matmulI8(h, q, 1)), `int8 ${name}`).toEqual(wantI8);
        expect(Array.from(await be.matmulTernary(h, u)), `ternary ${name}`).toEqual(wantT);
        be.release(h);
      }
      const g = (await general.uploadTernary(t)) as GpuTernary;
      expect(usesGemv(general.ctx, g, 1)).toBe(false);
      expect(Array.from(await general.matmulI8(g, q, 1))).toEqual(wantI8);
      general.release(g);
    }, 60_000);
  }

  it('weights cut into shards of a few rows write each shard at its row offset', async () => {
    const be = await WebGpuBackend.create({ gemv: { wg: 64, tpr: 16 }, maxBindingBytes: 3 * 64 * 8 });
    try {
      const rows = 19;
      const cols = 2048;
      const t = weights(rows, cols, 5, false);
      const h = (await be.uploadTernary(t)) as GpuTernary;
      expect(h.shards.length).toBeGreaterThan(4);
      const q = quantizeInt8PerToken(randomFloats(cols, 6), 1, cols).q;
      expect(Array.from(await be.matmulI8(h, q, 1))).toEqual(Array.from(naiveIntAcc(t, q, 1)));
    } finally {
      await be.dispose();
    }
  });

  it('is used only at batch 1, one scale per row and an even word count; bad shapes are typed errors', async () => {
    const be = bes.get('256/32')!;
    const grouped = (await be.uploadTernary(quantize(randomFloats(4 * 256, 1), 4, 256, 'twn', { groupSize: 64 }).tensor)) as GpuTernary;
    const odd = (await be.uploadTernary(quantize(randomFloats(4 * 96, 2), 4, 96, 'twn').tensor)) as GpuTernary;
    const plain = (await be.uploadTernary(quantize(randomFloats(4 * 128, 3), 4, 128, 'twn').tensor)) as GpuTernary;
    expect([usesGemv(be.ctx, grouped, 1), usesGemv(be.ctx, odd, 1), usesGemv(be.ctx, plain, 2), usesGemv(be.ctx, plain, 1)]).toEqual([false, false, false, true]);
    for (const h of [grouped, odd, plain]) be.release(h);
    await expect(WebGpuBackend.create({ gemv: { wg: 64, tpr: 32 } })).rejects.toMatchObject({ code: 'E_ARG', message: expect.stringMatching(/gemv/) });
    await expect(WebGpuBackend.create({ gemv: { wg: 100, tpr: 8 } })).rejects.toMatchObject({ code: 'E_ARG' });
  });
});
