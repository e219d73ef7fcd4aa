import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-vsa-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('tritwise vsa (built bin)', () => {
  it('--json prints exactly {items, dim, decoder, accuracy, set_us, get_us}', () => {
    const r = cli('vsa', '--items', '40', '--dim', '1024', '--seed', '3', '--json');
    expect(r.code, r.err).toBe(0);
    const j = JSON.parse(r.out);
    expect(Object.keys(j)).toEqual(['items', 'dim', 'decoder', 'accuracy', 'set_us', 'get_us']);
    expect(j).toMatchObject({ items: 40, dim: 1024, decoder: 'single' });
    expect(j.accuracy).toBeGreaterThanOrEqual(0.9);
    expect(j.set_us).toBeGreaterThan(0);
    expect(j.get_us).toBeGreaterThan(0);
  });

  it('the iterative decoder reads back D/8 pairs that single-shot cannot', () => {
    const single = JSON.parse(cli('vsa', '--items', '128', '--dim', '1024', '--json').out);
    const iter = JSON.parse(cli('vsa', '--items', '128', '--dim', '1024', '--decoder', 'iterative', '--json').out);
    expect(single.accuracy).toBeLessThan(0.6);
    expect(iter.accuracy).toBeGreaterThanOrEqual(0.99);
    expect(iter.decoder).toBe('iterative');
    const table = cli('vsa', '--items', '10', '--dim', '256');
    expect(table.code).toBe(0);
    expect(table.out).toMatch(/machine: .*1 thread/);
    expect(table.out).toMatch(/│ 10 +│ 256 +│ 1000 +│ single/);
  });

  it('bad input: a typed error (exit 2) or a usage error (exit 1)', () => {
    const d = cli('vsa', '--dim', '10');
    expect(d.code).toBe(2);
    expect(d.err).toMatch(/tritwise: E_ARG: invalid hypervector dimension \(--dim\): expected an integer in \[64, 1000000\], got 10/);
    const dec = cli('vsa', '--decoder', 'magic');
    expect(dec.code).toBe(1);
    expect(dec.err).toMatch(/Allowed choices are single, greedy, amp, iterative/);
    expect(cli('vsa', '--density', '2').code).toBe(1);
  });

  it('vsa bench writes the capacity curve (JSON + two SVGs) and the speed table', () => {
    const out = join(dir, 'bench');
    const r = cli('vsa', 'bench', '--dims', '256', '--ratios', '16,8', '--values', '100', '--speed-dim', '256', '--min-time', '5', '--greedy-max-dim', '256', '--out-dir', out);
    expect(r.code, r.err).toBe(0);
    const cap = JSON.parse(readFileSync(join(out, 'vsa-capacity.json'), 'utf8'));
    expect(cap.points.map((p: { decoder: string; items: number }) => `${p.decoder}@${p.items}`)).toEqual(['single@16', 'amp@16', 'greedy@16', 'single@32', 'amp@32', 'greedy@32']);
    for (const p of cap.points) expect(p.accuracy).toBeGreaterThanOrEqual(0);
    const svg = readFileSync(join(out, 'vsa-capacity.svg'), 'utf8');
    expect(svg.match(/<polyline /g)).toHaveLength(3);
    expect(readFileSync(join(out, 'vsa-capacity-load.svg'), 'utf8')).toContain('theory AMP (state evol.)');
    const speed = JSON.parse(readFileSync(join(out, 'vsa-speed.json'), 'utf8'));
    expect(speed.rows.map((x: { op: string }) => x.op)).toContain('bind');
    expect(speed).toMatchObject({ dim: 256, threads: 1 });
    for (const x of speed.rows) {
      expect(x.js_us).toBeGreaterThan(0);
      expect(x.wasm_us).toBeGreaterThan(0);
      expect(x.speedup).toBeCloseTo(x.js_us / x.wasm_us, 6);
    }
    expect(r.out).toMatch(/plain JS µs.*WASM µs/);
    expect(r.out).toMatch(/single.*greedy.*AMP/);
  });
});
