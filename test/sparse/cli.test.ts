/**
 * The sparsity features end to end through the built bin: `bench sparsity --json` (its JSON form,
 * on a small shape), `quantize --prune … --storage auto` on stories260K → `inspect` shows the
 * stored sparse formats and the automatic layout → `eval` of the saved folder equals `eval` with
 * the same plan in memory; plus the cost model: NNLS fit, validation, cache file and override.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TritwiseError } from '../../src/errors.js';
import { nnls } from '../../src/sparse/calibrate.js';
import { readCostModel, writeCostModel } from '../../src/sparse/cost-cache.js';
import { BUILTIN_COST_MODEL, chooseLayout, validateCostModel } from '../../src/sparse/cost-model.js';
import { sharedFile } from '../helpers/shared-data.js';
import { runCli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'tritwise-sparse-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const env = { ...process.env, XDG_CACHE_HOME: join(dir, 'cache'), TRITWISE_COST_MODEL: 'builtin' };

const cli = (...args: string[]) => runCli(args, env);

describe('cost model', () => {
  it('NNLS recovers non-negative coefficients and clamps a negative one to 0', () => {
    const A = [[1, 1], [1, 2], [1, 3], [1, 5]];
    expect(nnls(A, A.map(([a, b]) => 0.5 * a! + 2 * b!)).map((v) => Number(v.toFixed(6)))).toEqual([0.5, 2]);
    const c = nnls(A, A.map(([a, b]) => 3 * a! - 0.1 * b!));
    expect(c[1]).toBe(0);
    expect(c.every((v) => v >= 0)).toBe(true);
  });

  it('picks planes for dense layers and CSR for very sparse ones; files round-trip and bad ones are typed errors', () => {
    const dense = { rows: 4096, cols: 4096, nnz: 0.67 * 4096 * 4096, density: 0.67, liveWords: 4096 * 128, live64: 4096 * 64 };
    const sparse = { rows: 4096, cols: 4096, nnz: 0.01 * 4096 * 4096, density: 0.01, liveWords: 0.27 * 4096 * 128, live64: 0.48 * 4096 * 64 };
    for (const f of ['f32', 'i8'] as const) {
      expect(chooseLayout(dense, f).layout).toMatch(/^planes/);
      expect(chooseLayout(sparse, f).layout).toBe('csr');
    }
    // scale groups of 256: two short CSR lists per row and group make CSR lose at 99 % zeros (int8)
    const grouped = { rows: 4096, cols: 1536, nnz: 0.01 * 4096 * 1536, density: 0.01, liveWords: 0.27 * 4096 * 48, live64: 0.48 * 4096 * 24, groups: 6 };
    expect(chooseLayout(grouped, 'i8').layout).not.toBe('csr');
    expect(chooseLayout({ ...grouped, groups: 1 }, 'i8').layout).toBe('csr');
    const p = join(dir, 'cm.json');
    writeCostModel(p, BUILTIN_COST_MODEL);
    expect(readCostModel(p)).toEqual(BUILTIN_COST_MODEL);
    writeFileSync(p, '{"version":1,"coef":{"f32":{}}}');
    expect(() => readCostModel(p)).toThrow(TritwiseError);
    expect(() => validateCostModel({ ...BUILTIN_COST_MODEL, coef: { ...BUILTIN_COST_MODEL.coef, i8: { ...BUILTIN_COST_MODEL.coef.i8, csr: [-1, 0, 1] } } })).toThrow(/coef.i8.csr/);
  });
});

describe('tritwise bench sparsity and pruned models', () => {
  it('bench sparsity --json reports every layout with the documented fields and the auto choice', () => {
    const r = cli('bench', 'sparsity', '--shape', '64x2048', '--sparsity', '0,0.99', '--min-time', '5', '--rounds', '3', '--threads', '1', '--json');
    expect(r.code, r.err).toBe(0);
    const rep = JSON.parse(r.out);
    expect(rep.machine.cpu).toBeTruthy();
    expect(rep.results.map((x: { name: string }) => x.name).slice(0, 6)).toEqual(['dense-f32-wasm', 'planes', 'planes-skip', 'block-sparse', 'csr', 'auto']);
    for (const x of rep.results) {
      expect(Object.keys(x)).toEqual(expect.arrayContaining(['name', 'format', 'sparsity', 'rows', 'cols', 'median_ms', 'bytes']));
      expect(x.median_ms).toBeGreaterThan(0);
      // the spread of the round medians brackets their median; one thread never wakes a worker
      expect(x.q1_ms).toBeLessThanOrEqual(x.median_ms);
      expect(x.q3_ms).toBeGreaterThanOrEqual(x.median_ms);
      expect(x.wake_share).toBe(0);
      expect(x.speedup_vs_dense_f32_paired).toBeGreaterThan(0);
    }
    // the dense baseline against itself, paired by round, is exactly 1
    expect(rep.results.filter((x: { name: string }) => x.name === 'dense-f32-wasm').map((x: { speedup_vs_dense_f32_paired: number }) => x.speedup_vs_dense_f32_paired)).toEqual([1, 1]);
    const csr99 = rep.results.find((x: { name: string; sparsity: number }) => x.name === 'csr' && x.sparsity > 0.98);
    expect(csr99.bytes).toBeLessThan((64 * 2048 * 4) / 30);
    expect(rep.auto).toHaveLength(2);
  });

  it('quantize --prune --storage auto on stories260K: sparse formats on disk, inspect shows them, eval of the folder equals eval in memory', (ctx) => {
    const ck = sharedFile('stories260K.bin'), tok = sharedFile('tok512.bin'), text = sharedFile('tinystories_val_subset.txt');
    if (!ck || !tok || !text) return ctx.skip();
    const out = join(dir, 'pruned');
    const q = cli('quantize', ck, '--tokenizer', tok, '-o', out, '--prune', 'magnitude:0.95', '--storage', 'auto', '--threads', '1', '--json');
    expect(q.code, q.err).toBe(0);
    const ins = JSON.parse(cli('inspect', out, '--json').out);
    const tern = ins.tensors.filter((t: { auto_layout?: unknown }) => t.auto_layout);
    expect(tern.length).toBeGreaterThan(0);
    expect(tern.every((t: { sparsity: number }) => t.sparsity >= 0.95 - 1e-6)).toBe(true);
    expect(tern.some((t: { format: string }) => t.format === 'csr')).toBe(true);
    for (const t of tern) expect(t.format === 'planes' ? 'planes' : t.auto_layout.f32).toBe(t.format === 'planes' ? 'planes' : t.format);
    const evalArgs = ['--text', text, '--protocol', 'documents', '--doc-start', '^(Once upon a time|One day)', '--limit', '2', '--threads', '1', '--json'];
    const a = JSON.parse(cli('eval', out, ...evalArgs).out);
    const b = JSON.parse(cli('eval', ck, '--tokenizer', tok, '--prune', 'magnitude:0.95', ...evalArgs).out);
    expect(b.ternary_sparsity).toBeGreaterThanOrEqual(0.95 - 1e-6);
    expect(a.perplexity).toBe(b.perplexity);
    expect(cli('eval', ck, '--tokenizer', tok, '--prune', 'magnitude:2', ...evalArgs).err).toMatch(/E_ARG.*out of range/);
  });
});
