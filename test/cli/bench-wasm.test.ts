/**
 * `tritwise bench` on the wasm backend (the default): every kernel of the list, 1 and 2
 * threads, llama.cpp's TQ2_0 measured in the same run (node-llama-cpp is a devDependency), the
 * zero-skipping sweep, and the JSON/SVG outputs. Tiny shapes: this checks the command, not speed.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const bin = resolve(import.meta.dirname, '../../bin/tritwise.js');
const dir = mkdtempSync(join(tmpdir(), 'tritwise-bench-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tritwise bench (wasm)', () => {
  it('reports every kernel with medians, GB/s and ratios vs dense f32 and llama.cpp, plus zero skipping', () => {
    const json = join(dir, 'k.json');
    const svg = join(dir, 'k.svg');
    const r = spawnSync(process.execPath, [bin, 'bench', '--shape', '64x512', '--batch', '1,3', '--threads', '1,2', '--zeros', '0,0.95', '--zeros-shape', '64x512', '--min-time', '5', '--json', '-o', json, '--svg', svg], { encoding: 'utf8', timeout: 120_000 });
    expect(r.status, r.stderr).toBe(0);
    const rep = JSON.parse(r.stdout);
    expect(JSON.parse(readFileSync(json, 'utf8'))).toEqual(rep);
    expect(rep.machine).toMatchObject({ cores: expect.any(Number), node: process.version, backend: 'wasm', simd: expect.stringMatching(/^(simd128|relaxed-simd)$/), threads: [1, 2], llamacpp: expect.stringMatching(/libggml-cpu-.*\.so/) });
    const main = rep.results.filter((x: { zeros?: number }) => x.zeros === undefined);
    const names = ['dense-f32-wasm', 'ternary-f32-wasm', 'ternary-i8-wasm', 'ternary-ternary-wasm', 'llamacpp-tq2_0'];
    expect(main.map((x: { name: string; batch: number; threads: number }) => `${x.name} b${x.batch} t${x.threads}`)).toEqual([1, 2].flatMap((t) => [1, 3].flatMap((b) => names.map((n) => `${n} b${b} t${t}`))));
    for (const x of main) {
      expect(x).toMatchObject({ rows: 64, cols: 512 });
      expect(x.median_ms).toBeGreaterThan(0);
      expect(x.gbps).toBeGreaterThan(0);
      expect(x.speedup_vs_dense).toBeGreaterThan(0);
      expect(x.speedup_vs_llamacpp).toBeGreaterThan(0);
    }
    const zeros = rep.results.filter((x: { zeros?: number }) => x.zeros !== undefined);
    expect(zeros).toHaveLength(2 * 2 * 3);
    expect(zeros.map((x: { zeros: number }) => x.zeros)).toEqual(expect.arrayContaining([0, expect.closeTo(0.95, 2)]));
    for (const x of zeros) expect(x.speedup_vs_zeros0).toBeGreaterThan(0);
    const chart = readFileSync(svg, 'utf8');
    expect(chart).toMatch(/^<svg [^>]*xmlns="http:\/\/www.w3.org\/2000\/svg"/);
    expect(chart).toContain('llamacpp-tq2_0');
    expect(chart).toContain('64×512 b3 t2');
    expect(readFileSync(svg.replace(/\.svg$/, '.zeros.svg'), 'utf8')).toContain('95% zeros t2');
  });

  it('refuses bad lists', () => {
    const r = spawnSync(process.execPath, [bin, 'bench', '--zeros', '0,1.5'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/expected fractions in \[0, 1\)/);
  });
});
