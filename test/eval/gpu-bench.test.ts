/**
 * The WebGPU benchmark on whatever adapter Dawn finds (lavapipe in CI): the report's structure,
 * the same-run ratios, and the CLI (`tritwise bench --backend webgpu`). Tiny shapes and a tiny
 * decode model: this checks the machinery, not speed (`npm run bench:gpu` is the benchmark).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { WebGpuBackend } from '../../src/backend/webgpu/webgpu-backend.js';
import { benchGpu, randomTernary } from '../../src/eval/gpu-bench.js';
import { specBandwidth } from '../../src/eval/gpu-specs.js';
import { defaultConfig } from '../../src/nn/llama-config.js';
import { webgpuUnavailable } from '../helpers/webgpu.js';

const why = await webgpuUnavailable();
if (why && process.env.CI) throw new Error(`webgpu backend unavailable in CI: ${why}`);
const bin = resolve(import.meta.dirname, '../../bin/tritwise.js');

describe('gpu bench helpers', () => {
  it('randomTernary keeps the plane invariants; specBandwidth knows the usual cards', () => {
    const t = randomTernary(7, 70, 1);
    expect(() => t.validate()).not.toThrow();
    expect(t.stats().sparsity).toBeGreaterThan(0.1);
    expect(t.stats().sparsity).toBeLessThan(0.4);
    expect(specBandwidth('NVIDIA H100 80GB HBM3')).toMatchObject({ gbps: 3350 });
    expect(specBandwidth('NVIDIA H100 PCIe')).toMatchObject({ gbps: 2000 });
    expect(specBandwidth('NVIDIA H200')).toMatchObject({ gbps: 4800 });
    expect(specBandwidth('llvmpipe (LLVM 15.0.6, 256 bits)')).toBeNull();
  });
});

describe.skipIf(why !== null)('gpu bench (webgpu)', () => {
  it('reports GEMV GB/s, roofline fraction and same-run ratios vs dense f32/f16, and decode tokens/s', async () => {
    const be = await WebGpuBackend.create();
    try {
      const config = defaultConfig({ dim: 64, hiddenDim: 96, nLayers: 2, nHeads: 4, vocabSize: 100, seqLen: 32, sharedClassifier: true });
      const r = await benchGpu(be, { quick: true, shapes: [[8, 4200]], zeroBlocks: [8, 4200], batches: [1, 5], minTimeMs: 1, decode: { config, label: 'tiny', tokens: 2, modes: ['f32', 'int8'] }, attention: { shape: { nHeads: 2, nKvHeads: 1, headDim: 16 }, positions: 70 }, multiTrit: { shape: [8, 100], depths: [1, 3] }, independent: true });
      expect(r.machine.adapter).toBe(be.describe().adapter);
      expect(r.memory.measured_copy_gbps).toBeGreaterThan(0);
      const names = ['dense-f32-webgpu', ...(be.gpu.f16 ? ['dense-f16-webgpu'] : []), 'ternary-f32-webgpu', 'ternary-i8-webgpu', 'ternary-ternary-webgpu'];
      const rowblock = ['ternary-i8-webgpu-rowblock', 'ternary-ternary-webgpu-rowblock'];
      expect(r.gemv.map((g) => `${g.name} b${g.batch}`)).toEqual([1, 5].flatMap((b) => [...names, ...(b === 1 ? rowblock : [])].map((n) => `${n} b${b}`)));
      // the batch-1 integer outputs checked exactly against the reference backend (8×4200: 132 words, even → ternary-gemv)
      expect(r.gemv_error).toBeNull();
      expect(r.gemv.filter((g) => g.independent_ms! > 0).map((g) => `${g.name} b${g.batch}`)).toEqual(['dense-f32-webgpu b1', 'ternary-i8-webgpu b1', 'ternary-ternary-webgpu b1']);
      expect(r.checks).toEqual(['ternary-i8-webgpu', 'ternary-ternary-webgpu'].map((name) => ({ name, rows: 8, cols: 4200, exact: true, mismatches: 0 })));
      // zero-chunk skipping: 3 blocks of 2048 columns, 2 of them zeroed
      expect(r.zero_blocks.map((z) => [z.name, z.zero_blocks])).toEqual([0, 2 / 3].flatMap((f) => ['ternary-f32-webgpu', 'ternary-i8-webgpu', 'ternary-ternary-webgpu'].map((n) => [n, f])));
      for (const z of r.zero_blocks) expect(z.speedup_vs_no_zero_blocks).toBeGreaterThan(0);
      for (const g of r.gemv) {
        const dense = r.gemv.find((d) => d.name === 'dense-f32-webgpu' && d.rows === g.rows && d.batch === g.batch)!;
        expect(g.median_ms).toBeGreaterThan(0);
        expect(g.gbps).toBeCloseTo(g.weight_bytes / (g.median_ms * 1e6), 6);
        expect(g.roofline_fraction).toBeCloseTo(g.gbps / r.memory.roofline_gbps, 6);
        expect(g.speedup_vs_dense_f32).toBeCloseTo(dense.median_ms / g.median_ms, 6);
        expect(g.weight_bytes).toBe(g.name.startsWith('ternary') ? 8 * 132 * 8 : g.name === 'dense-f32-webgpu' ? 8 * 4200 * 4 : 8 * 4200 * 2);
      }
      expect(r.decode.map((d) => [d.shape, d.activation, d.tokens])).toEqual([['tiny', 'f32', 2], ['tiny', 'int8', 2]]);
      for (const d of r.decode) expect(d.tokens_per_second).toBeGreaterThan(0);
      expect(r.attention.map((a) => a.mode)).toEqual(['exact', 'flash', 'ternary', 'topk:32']);
      for (const a of r.attention) {
        expect(a.positions).toBe(70);
        expect(a.kv_gbps).toBeCloseTo((2 * 70 * 16 * 4) / (a.median_ms * 1e6), 6);
        expect(a.speedup_vs_exact).toBeCloseTo(r.attention[0]!.median_ms / a.median_ms, 6);
      }
      expect(r.multi_trit.map((m) => `${m.name} d${m.depth}`)).toEqual(['multi-f32-webgpu d1', 'multi-i8-webgpu d1', 'multi-f32-webgpu d3', 'multi-i8-webgpu d3']);
      for (const m of r.multi_trit) expect(m.weight_bytes).toBe(m.depth * 8 * 4 * 8);
      expect(r.targets.ternary_gemv_4096x11008_roofline).toMatchObject({ value: null, met: null });
      expect(r.targets.decode_on_gpu).toMatchObject({ met: true });
    } finally {
      await be.dispose();
    }
  });

  it('tritwise bench --backend webgpu --json names the adapter in its machine field', () => {
    const r = spawnSync(process.execPath, [bin, 'bench', '--backend', 'webgpu', '--quick', '--no-gpu-decode', '--shape', '32x64', '--batch', '1', '--min-time', '1', '--json'], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(rep.machine).toMatchObject({ backend: 'webgpu', adapter: expect.any(String), driver: expect.any(String) });
    expect(rep.gemv.length).toBeGreaterThanOrEqual(4);
    expect(rep.decode).toEqual([]);
  });
});
