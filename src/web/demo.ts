/**
 * demo — the browser demo page (index.html): load a llama2.c checkpoint the user picks (with its
 * tokenizer.bin) or build the random-weights demo model, quantize it to trits, and stream a
 * generation on WebGPU — or on the WASM backend when WebGPU is missing or fails — showing
 * tokens/s. Bundled by scripts/build-web.mjs (esbuild) with the WGSL sources inlined;
 * `tritwise serve` serves it with the cross-origin isolation headers the WASM threads need.
 *
 * For tests, #output carries data-state ('running' | 'done' | 'error'), data-ids (the generated
 * ids as JSON) and data-backend.
 */
import type { Backend } from '../backend/backend.js';
import { WasmBackend } from '../backend/wasm/wasm-backend.js';
import { registerShaderSources } from '../backend/webgpu/shader-source.js';
import { WebGpuBackend } from '../backend/webgpu/webgpu-backend.js';
import { parseLlama2c } from '../io/llama2c.js';
import { parseLlama2cTokenizer } from '../io/tokenizers/llama2c-tokenizer.js';
import { defaultConfig } from '../nn/llama-config.js';
import { Model } from '../nn/model.js';
import { randomWeights } from '../nn/random-model.js';
import { browserPlatform } from './browser-platform.js';

declare const __TRITWISE_SHADERS__: Record<string, string>;
registerShaderSources(__TRITWISE_SHADERS__);

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const val = (id: string) => $<HTMLInputElement>(id).value;
const base = new URL('.', import.meta.url);

let loaded: { key: string; model: Model; backend: Backend; label: string } | null = null;

function status(s: string, error = false): void {
  const el = $('status');
  el.textContent = s;
  el.className = error ? 'error' : '';
}

/** The backend the user asked for; 'auto' falls back from WebGPU to WASM and says why. */
async function openBackend(choice: string): Promise<{ backend: Backend; label: string }> {
  let why = '';
  if (choice !== 'wasm') {
    try {
      const b = await WebGpuBackend.create();
      return { backend: b, label: `webgpu (${String(b.describe().adapter)})` };
    } catch (e) {
      if (choice === 'webgpu') throw e;
      why = (e as Error).message;
    }
  }
  const threads = crossOriginIsolated ? Math.min(4, navigator.hardwareConcurrency || 1) : 1;
  const b = await WasmBackend.create({ threads }, browserPlatform(base));
  return { backend: b, label: `wasm (${String(b.describe().simd)}, ${threads} thread${threads > 1 ? 's' : ''})${why ? ` — WebGPU unavailable: ${why}` : ''}` };
}

async function loadModel(backend: Backend): Promise<Model> {
  const source = (document.querySelector('input[name=source]:checked') as HTMLInputElement).value;
  let model: Model;
  if (source === 'file') {
    const mf = $<HTMLInputElement>('model-file').files?.[0];
    const tf = $<HTMLInputElement>('tokenizer-file').files?.[0];
    if (!mf) throw new Error('pick a llama2.c checkpoint (for example stories260K.bin)');
    status(`reading ${mf.name}`);
    const ck = parseLlama2c(new Uint8Array(await mf.arrayBuffer()), mf.name);
    const tokenizer = tf ? parseLlama2cTokenizer(new Uint8Array(await tf.arrayBuffer()), tf.name) : undefined;
    model = await Model.fromCheckpoint({ ...ck, tokenizer, activations: new Map() }, { backend });
  } else {
    const [layers, dim, ffn, heads, vocab] = val('random-shape').split(',').map(Number) as [number, number, number, number, number];
    status(`building a random ${layers}-layer dim-${dim} model`);
    const config = defaultConfig({ dim, hiddenDim: ffn, nLayers: layers, nHeads: heads, vocabSize: vocab, seqLen: 512 });
    model = await Model.fromCheckpoint({ config, weights: randomWeights(config, 1), activations: new Map() }, { backend });
  }
  const q = val('quantizer');
  if (q === 'f32') return model;
  status(`quantizing (${q})`);
  return model.quantize({ quantizer: q, activation: val('activation') as 'f32' | 'int8' });
}

async function generate(): Promise<void> {
  const out = $('output');
  const stats = $('stats');
  out.dataset.state = 'running';
  out.textContent = '';
  stats.textContent = '';
  try {
    const mf = $<HTMLInputElement>('model-file').files?.[0];
    const key = JSON.stringify([(document.querySelector('input[name=source]:checked') as HTMLInputElement).value, mf?.name, mf?.size, val('random-shape'), val('quantizer'), val('activation'), val('backend')]);
    if (!loaded || loaded.key !== key) {
      if (loaded) await loaded.backend.dispose();
      loaded = null;
      status('opening the backend');
      const { backend, label } = await openBackend(val('backend'));
      const t0 = performance.now();
      const model = await loadModel(backend);
      loaded = { key, model, backend, label };
      status(`model ready in ${((performance.now() - t0) / 1000).toFixed(2)} s`);
    }
    const { model, label } = loaded;
    out.dataset.backend = label;
    const prompt = val('prompt');
    const ids: number[] = [];
    const t0 = performance.now();
    let first = 0;
    out.textContent = model.tokenizer ? prompt : '';
    const input = model.tokenizer ? prompt : [1];
    for await (const t of model.generate(input, { maxTokens: Number(val('max-tokens')), temperature: Number(val('temperature')), topP: Number(val('top-p')), seed: Number(val('seed')) })) {
      if (ids.length === 0) first = performance.now() - t0;
      ids.push(t.id);
      out.textContent += model.tokenizer ? t.text : `${ids.length > 1 ? ' ' : ''}${t.id}`;
      const s = (performance.now() - t0) / 1000;
      stats.textContent = `${label} · ${ids.length} tokens in ${s.toFixed(2)} s · ${(ids.length / s).toFixed(1)} tokens/s`;
    }
    const s = (performance.now() - t0) / 1000;
    const decode = ids.length > 1 ? (ids.length - 1) / (s - first / 1000) : 0;
    stats.textContent = `${label} · ${ids.length} tokens in ${s.toFixed(2)} s · ${(ids.length / s).toFixed(1)} tokens/s (first token ${first.toFixed(0)} ms, then ${decode.toFixed(1)} tokens/s)`;
    out.dataset.ids = JSON.stringify(ids);
    out.dataset.tokensPerSecond = String(ids.length / s);
    out.dataset.state = 'done';
    status('done');
  } catch (e) {
    out.dataset.state = 'error';
    status(`error: ${(e as Error).message}`, true);
  }
}

function syncSource(): void {
  const file = (document.querySelector('input[name=source]:checked') as HTMLInputElement).value === 'file';
  $('file-inputs').style.display = file ? '' : 'none';
  $('random-inputs').style.display = file ? 'none' : '';
}

document.querySelectorAll('input[name=source]').forEach((r) => r.addEventListener('change', syncSource));
syncSource();
$('generate').addEventListener('click', () => void generate());
