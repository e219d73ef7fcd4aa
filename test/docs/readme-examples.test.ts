/**
 * readme-examples — the README's "API tour" code runs as printed.
 *
 * Each ```ts block of that section is written to a temporary folder as an ES module, with
 * `from 'tritwise'` pointed at the built package (dist/index.js, as `npm test` builds first), and
 * run in a child Node process from that folder, next to the files it names (stories260K.bin and
 * tok512.bin from ../shared/data, and the first 3,000 characters of tinystories_val_subset.txt, so
 * the ref-backend perplexity takes seconds). A few lines appended after each block print what it
 * computed, and the test checks those values and the files the block wrote. The runnable block of
 * docs/vsa.md (`tritwise/vsa`) is run the same way, and the values its comments promise are checked.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { sharedFile } from '../helpers/shared-data.js';

const ROOT = resolve(import.meta.dirname, '../..');
const DIST = pathToFileURL(join(ROOT, 'dist/index.js')).href;
const DIST_VSA = pathToFileURL(join(ROOT, 'dist/vsa/index.js')).href;

/** The ```ts blocks of `file` between `heading` (a "## " or "# " line) and the next heading of that level. */
function blocks(file: string, heading: string): string[] {
  const md = readFileSync(join(ROOT, file), 'utf8');
  const start = md.indexOf(`\n${heading}\n`);
  if (start < 0) throw new Error(`${file} has no "${heading}" section`);
  const level = heading.slice(0, heading.indexOf(' ') + 1);
  const end = md.indexOf(`\n${level}`, start + 1);
  const section = md.slice(start, end < 0 ? undefined : end);
  return [...section.matchAll(/```ts\n([\s\S]*?)```/g)].map((m) => m[1]);
}

const dir = mkdtempSync(join(tmpdir(), 'tritwise-readme-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Write block `code` (+ `tail`) as an ES module in `dir` and run it there; its last stdout line is JSON. */
function run(name: string, code: string, tail: string): Record<string, unknown> {
  expect(code).toMatch(/from 'tritwise(\/vsa)?'/);
  const file = join(dir, `${name}.mjs`);
  const src = code.replaceAll("from 'tritwise'", `from '${DIST}'`).replaceAll("from 'tritwise/vsa'", `from '${DIST_VSA}'`);
  writeFileSync(file, src + '\n' + tail + '\n');
  const r = spawnSync(process.execPath, [file], { cwd: dir, encoding: 'utf8', timeout: 120_000 });
  if (r.status !== 0) throw new Error(`README block ${name} exited with ${r.status}:\n${r.stderr}`);
  const last = r.stdout.trim().split('\n').pop()!;
  return JSON.parse(last.slice(last.indexOf('{')));
}

describe('README API tour', () => {
  const tour = blocks('README.md', '## API tour');

  it('has the two blocks (layers, then models)', () => {
    expect(tour.length).toBe(2);
    expect(existsSync(join(ROOT, 'dist/index.js'))).toBe(true);
  });

  it('quantize, lens edit, TernaryLinear on the ref backend, safetensors round trip', () => {
    const out = run('tour', tour[0], [
      'const back = tensors instanceof Map ? tensors.get("layers.0.w1") : tensors["layers.0.w1"];',
      'console.log(JSON.stringify({ sparsity: stats.sparsity, relError: stats.relError, ylen: y.length,',
      '  yfinite: Array.from(y).every(Number.isFinite), edited: tensor.get(3, 17), reloaded: back.get(3, 17),',
      '  same: back.rows === 256 && back.cols === 1000 && Array.from({ length: 1000 }, (_, c) => back.get(5, c) === tensor.get(5, c)).every(Boolean) }));',
    ].join('\n'));
    expect(out.sparsity).toBeGreaterThan(0.2);
    expect(out.sparsity).toBeLessThan(0.5);
    expect(out.relError).toBeGreaterThan(0);
    expect(out.relError).toBeLessThan(1);
    expect(out).toMatchObject({ ylen: 256, yfinite: true, edited: 1, reloaded: 1, same: true });
    expect(statSync(join(dir, 'layer.safetensors')).size).toBeGreaterThan(256 * 32 * 2 * 4);
  });

  it('models: load, generate, quantize under a plan, perplexity, save, GGUF and HF export, batched forward', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    const text = sharedFile('tinystories_val_subset.txt');
    if (!ckpt || !tok || !text) return t.skip();
    symlinkSync(ckpt, join(dir, 'stories260K.bin'));
    symlinkSync(tok, join(dir, 'tok512.bin'));
    writeFileSync(join(dir, 'tinystories_val_subset.txt'), readFileSync(text, 'utf8').slice(0, 3000));
    const out = run('models', tour[1], [
      'console.log("\\n" + JSON.stringify({ ppl: r.perplexity, scored: r.tokens_scored, la: a.length, lb: b.length,',
      '  finite: [...a, ...b].every(Number.isFinite) }));',
    ].join('\n'));
    expect(out.ppl as number).toBeGreaterThan(1);
    expect(out.ppl as number).toBeLessThan(512);
    expect(out.scored as number).toBeGreaterThan(100);
    // logits: 'all' gives vocab-sized rows for every token (3 and 2 tokens)
    expect(out.la).toBe(3 * 512);
    expect(out.lb).toBe(2 * 512);
    expect(out.finite).toBe(true);
    for (const f of ['stories-ternary/config.json', 'stories-ternary/model.safetensors', 'stories-hf/config.json', 'stories-hf/model.safetensors']) {
      expect(existsSync(join(dir, f)), f).toBe(true);
    }
    expect(readFileSync(join(dir, 'stories.tq2_0.gguf')).subarray(0, 4).toString('latin1')).toBe('GGUF');
  });
});

describe('docs/vsa.md example', () => {
  it('runs as printed, and the values in its comments hold', () => {
    const [code] = blocks('docs/vsa.md', '# Holographic memory (`tritwise/vsa`)');
    const out = run('vsa', code, [
      'const kv2 = await KeyValueStore.create(4096); await kv2.set("k", "v");',
      'console.log("\\n" + JSON.stringify({ nnz: s.stats().plus + s.stats().minus,',
      '  unbind: unbind(bind(a, b), b).equals(a), permute: permute(permute(a, 5), -5).equals(a),',
      '  undo: acc.sign().equals(a), cleanup: (await colors.cleanup(bundle([colors.vector("red"), a, b]))).name,',
      '  deleted: (await store.get("alice"))?.value ?? null, kv: (await kv2.get("k"))?.value,',
      '  street: (await sm.query(v, ["alice", "address", "street", 1])).atom,',
      '  engine: vsa.similarity(x, vsa.bindInto(vsa.vector(10_000), x, y)).dot === similarity(x, bind(x, y)).dot }));',
    ].join('\n'));
    expect(out).toMatchObject({ nnz: 1000, unbind: true, permute: true, undo: true, cleanup: 'red', deleted: null, kv: 'v', street: 'main', engine: true });
  });
});
