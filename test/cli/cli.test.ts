import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { writeSafetensors } from '../../src/io/safetensors.js';
import { saveWeights } from '../../src/io/weights-file.js';
import { quantize } from '../../src/quant/weight-quantizers.js';
import { randomFloats } from '../helpers/arbitraries.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tritwise CLI (built bin)', () => {
  it('inspect lists a tritwise file: formats, bits per weight, sparsity', () => {
    const p = join(dir, 'tw.safetensors');
    const w = randomFloats(64 * 96, 1);
    saveWeights(p, { 'layers.0.w1': quantize(w, 64, 96, 'twn').tensor, 'layers.0.w2': quantize(w, 64, 96, 'percentile:90', { groupSize: 32 }).tensor, norm: { shape: [96], data: new Float32Array(96).fill(1) } });
    const r = cli('inspect', p, '--json');
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out);
    const w1 = s.tensors.find((t: { name: string }) => t.name === 'layers.0.w1');
    expect(w1).toMatchObject({ shape: [64, 96], format: 'planes', quantizer: 'twn', bytes: 64 * 3 * 4 * 2 + 64 * 4 });
    expect(w1.bits_per_weight).toBeCloseTo(((64 * 3 * 8 + 64 * 4) * 8) / (64 * 96), 6);
    expect(s.tensors.find((t: { name: string }) => t.name === 'layers.0.w2').sparsity).toBeGreaterThan(0.85);
    expect(s.tensors.find((t: { name: string }) => t.name === 'norm')).toMatchObject({ format: 'f32', sparsity: 0, bits_per_weight: 32 });
    const table = cli('inspect', p);
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/layers\.0\.w1.*64×96.*planes \(twn\)/);
    expect(table.out).toMatch(/3 tensors/);
  });

  it('inspect reads an ordinary f32 safetensors file', () => {
    const p = join(dir, 'hf.safetensors');
    const data = new Float32Array(12);
    data[3] = 1;
    writeSafetensors(p, [{ name: 'model.layers.0.mlp.up_proj.weight', dtype: 'F32', shape: [3, 4], data }]);
    const s = JSON.parse(cli('inspect', p, '--json').out);
    expect(s.tensors).toEqual([{ name: 'model.layers.0.mlp.up_proj.weight', shape: [3, 4], format: 'f32', bits_per_weight: 32, sparsity: 11 / 12, bytes: 48 }]);
  });

  it('reports bad input as a typed error with exit code 2', () => {
    const r = cli('inspect', join(dir, 'missing.safetensors'));
    expect(r.code).toBe(2);
    expect(r.err).toMatch(/tritwise: E_IO: cannot open file .*missing\.safetensors/);
    const b = cli('bench', '--shape', '12by7');
    expect(b.code).toBe(1);
    expect(b.err).toMatch(/expected ROWSxCOLS/);
  });

  it('bench --json reports medians and ratios for every kernel', () => {
    const r = cli('bench', '--backend', 'ref', '--shape', '64x100', '--batch', '1,2', '--min-time', '5', '--json');
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.machine).toMatchObject({ cores: expect.any(Number), node: process.version, backend: 'ref' });
    expect(rep.results.map((x: { name: string }) => x.name)).toEqual(['dense-f32-ref', 'ternary-f32-ref', 'ternary-i8-ref', 'ternary-ternary-ref', 'dense-f32-ref', 'ternary-f32-ref', 'ternary-i8-ref', 'ternary-ternary-ref']);
    for (const x of rep.results) {
      expect(x.median_ms).toBeGreaterThan(0);
      expect(x.gbps).toBeGreaterThan(0);
      expect(x.speedup_vs_dense).toBeGreaterThan(0);
    }
  });
});
