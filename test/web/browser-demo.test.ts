/**
 * The browser demo in Debian's headless Chromium (playwright-core, /usr/bin/chromium), served by
 * `tritwise serve`: stories260K picked through the file inputs, quantized in the page, generated
 * on WebGPU (Chromium's SwiftShader adapter, --enable-unsafe-webgpu) and — without that flag, when
 * no adapter exists — on the WASM fallback; both must give the ids Node gives for the same seed.
 * Screenshots go to .tmp/browser-demo-{webgpu,wasm}.png. Without Chromium the test is skipped with
 * the reason printed, except under CI (which installs it).
 */
import { existsSync, mkdirSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { serveDemo, type DemoServer } from '../../src/cli/serve.js';
import { defaultConfig } from '../../src/nn/llama-config.js';
import { Model } from '../../src/nn/model.js';
import { randomWeights } from '../../src/nn/random-model.js';
import { sharedFile } from '../helpers/shared-data.js';

const CHROMIUM = process.env.TRITWISE_CHROMIUM ?? '/usr/bin/chromium';
const BASE_FLAGS = ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking'];
const haveChromium = existsSync(CHROMIUM);
if (!haveChromium && process.env.CI) throw new Error(`${CHROMIUM} is missing in CI (.ci/run installs the chromium package)`);
if (!haveChromium) console.warn(`SKIP browser demo tests: ${CHROMIUM} not found (apt-get install chromium)`);

const GEN = { prompt: 'Once upon a time', maxTokens: 16, temperature: 0.8, seed: 7 };

interface PageResult {
  state: string;
  backend: string;
  ids: number[];
  text: string;
  stats: string;
}

describe.skipIf(!haveChromium)('browser demo (headless Chromium)', () => {
  let server: DemoServer;
  beforeAll(async () => {
    server = await serveDemo({ port: 0 });
  });
  afterAll(async () => {
    await server?.close();
  });

  async function runPage(flags: string[], setup: (page: import('playwright-core').Page) => Promise<void>, shot: string): Promise<PageResult> {
    const { chromium } = await import('playwright-core');
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: [...BASE_FLAGS, ...flags] });
    try {
      const page = await browser.newPage();
      const errors: string[] = [];
      page.on('pageerror', (e) => errors.push(e.message));
      await page.goto(server.url);
      await setup(page);
      await page.click('#generate');
      await page.waitForFunction(() => ['done', 'error'].includes(document.getElementById('output')!.dataset.state ?? ''), null, { timeout: 90_000 });
      const r = await page.evaluate(() => {
        const o = document.getElementById('output')!;
        return { state: o.dataset.state!, backend: o.dataset.backend ?? '', ids: JSON.parse(o.dataset.ids ?? '[]') as number[], text: o.textContent ?? '', stats: document.getElementById('stats')!.textContent ?? '', status: document.getElementById('status')!.textContent ?? '' };
      });
      mkdirSync('.tmp', { recursive: true });
      await page.screenshot({ path: `.tmp/${shot}`, fullPage: true });
      expect(errors).toEqual([]);
      expect(r.state, r.status).toBe('done');
      return r;
    } finally {
      await browser.close();
    }
  }

  async function pickStories(page: import('playwright-core').Page, ckpt: string, tok: string): Promise<void> {
    await page.setInputFiles('#model-file', ckpt);
    await page.setInputFiles('#tokenizer-file', tok);
    await page.fill('#prompt', GEN.prompt);
    await page.fill('#max-tokens', String(GEN.maxTokens));
    await page.fill('#temperature', String(GEN.temperature));
    await page.fill('#seed', String(GEN.seed));
  }

  async function nodeStories(ckpt: string, tok: string): Promise<{ ids: number[]; text: string }> {
    const m = await (await Model.load(ckpt, { tokenizer: tok, backend: 'ref' })).quantize({ quantizer: 'twn', activation: 'f32' });
    const ids: number[] = [];
    let text = GEN.prompt;
    for await (const t of m.generate(GEN.prompt, GEN)) {
      ids.push(t.id);
      text += t.text;
    }
    return { ids, text };
  }

  it('stories260K (ternary, twn) on WebGPU in the page gives the Node ids and text for the same seed, with tokens/s', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    if (!ckpt || !tok) return t.skip();
    const r = await runPage(['--enable-unsafe-webgpu'], (p) => pickStories(p, ckpt, tok), 'browser-demo-webgpu.png');
    expect(r.backend).toMatch(/^webgpu \(/);
    const want = await nodeStories(ckpt, tok);
    expect(r.ids).toEqual(want.ids);
    expect(r.text).toBe(want.text);
    expect(r.stats).toMatch(/\d+ tokens in [\d.]+ s · [\d.]+ tokens\/s/);
  });

  it('without WebGPU the page falls back to WASM (threads, cross-origin isolated) with the same ids; the random demo model too', async (t) => {
    const ckpt = sharedFile('stories260K.bin');
    const tok = sharedFile('tok512.bin');
    if (!ckpt || !tok) return t.skip();
    const r = await runPage([], (p) => pickStories(p, ckpt, tok), 'browser-demo-wasm.png');
    expect(r.backend).toMatch(/^wasm \(.*threads?\) — WebGPU unavailable: /);
    expect(r.ids).toEqual((await nodeStories(ckpt, tok)).ids);
    // the random-weights demo model (small shape), greedy: the ids Node computes from the same seeded weights
    const rr = await runPage([], async (p) => {
      await p.check('input[name=source][value=random]');
      await p.fill('#max-tokens', '12');
    }, 'browser-demo-random.png');
    const config = defaultConfig({ dim: 128, hiddenDim: 384, nLayers: 2, nHeads: 4, vocabSize: 512, seqLen: 512 });
    const m = await (await Model.fromCheckpoint({ config, weights: randomWeights(config, 1), activations: new Map() }, { backend: 'ref' })).quantize({ quantizer: 'twn', activation: 'f32' });
    const ids: number[] = [];
    for await (const x of m.generate([1], { maxTokens: 12 })) ids.push(x.id);
    expect(rr.ids).toEqual(ids);
    expect(rr.text).toBe(ids.join(' '));
  });
});

describe('tritwise serve', () => {
  it('serves the demo with cross-origin isolation headers, wasm with its MIME type, and nothing outside dist/web', async () => {
    const s = await serveDemo({ port: 0 });
    try {
      const index = await fetch(s.url);
      expect(index.status).toBe(200);
      expect(index.headers.get('cross-origin-opener-policy')).toBe('same-origin');
      expect(index.headers.get('cross-origin-embedder-policy')).toBe('require-corp');
      expect(await index.text()).toContain('tritwise-demo.js');
      const wasm = await fetch(new URL('kernels/simd.wasm', s.url));
      expect(wasm.headers.get('content-type')).toBe('application/wasm');
      expect(WebAssembly.validate(new Uint8Array(await wasm.arrayBuffer()))).toBe(true);
      const js = await fetch(new URL('tritwise-demo.js', s.url));
      expect(await js.text()).toContain('fn main'); // the WGSL is inlined in the bundle
      for (const p of ['../package.json', '%2e%2e/package.json', 'nope.js']) expect((await fetch(s.url + p)).status, p).toBe(404);
    } finally {
      await s.close();
    }
  });
});
