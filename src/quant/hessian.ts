/**
 * hessian — second moments of the inputs of linear layers over calibration text:
 *
 *   H = XᵀX / tokens = E[x xᵀ]   ([cols, cols], f64; its diagonal is calibration.ts's E[x²])
 *
 * for the error-compensating quantizer (gptq.ts), whose objective (w − ŵ)ᵀH(w − ŵ) is the mean
 * squared output error of a row on the calibration inputs. Layers that read the same input
 * (wq/wk/wv read the attention norm's output, w1/w3 the FFN norm's) share one H, computed once.
 * Only the upper triangle is accumulated (cols²/2 multiply-adds per token), then mirrored.
 * When only some layers are wanted, each forward pass stops right after the last of them (in
 * forward order) has seen its input: the later layers and the output head are not run (the
 * sequential pipeline measures one stage at a time, so this halves its cost on average).
 */
import type { Backend } from '../backend/backend.js';
import type { StoredTensor } from '../io/weights-file.js';
import { linearNames, type LlamaConfig } from '../nn/llama-config.js';
import type { Linear } from '../nn/linear.js';
import { LlamaModel } from '../nn/llama.js';
import type { Progress } from './calibration.js';

/** The layer whose input a linear layer shares (wk, wv → wq; w3 → w1), or itself. */
export function inputSite(name: string): string {
  return name.replace(/attention\.w[kv]$/, 'attention.wq').replace(/feed_forward\.w3$/, 'feed_forward.w1');
}

/** Second and first moments of a layer's inputs. */
export interface InputStats {
  /** E[x xᵀ], [cols, cols] row-major */
  h: Float64Array;
  /** E[x], [cols] */
  mean: Float64Array;
  tokens: number;
}

/** Thrown by the last wanted recorder to end a forward pass early (caught in collectHessians). */
const STOP = Symbol('hessian: stop forward');

/** Position of a linear layer in the forward pass (layer, then wq/wk/wv < wo < w1/w3 < w2; output last). */
function forwardRank(name: string): number {
  const m = /^layers\.(\d+)\.(attention\.w[qkvo]|feed_forward\.w[123])$/.exec(name);
  if (!m) return Number.MAX_SAFE_INTEGER;
  const within = { 'attention.wq': 0, 'attention.wk': 0, 'attention.wv': 0, 'attention.wo': 1, 'feed_forward.w1': 2, 'feed_forward.w3': 2, 'feed_forward.w2': 3 }[m[2]!]!;
  return Number(m[1]) * 4 + within;
}

class HessianRecorder implements Linear {
  readonly h: Float64Array;
  readonly sum: Float64Array;
  count = 0;
  /** end the forward pass after recording (the last wanted layer) */
  stop = false;
  constructor(readonly inner: Linear) {
    this.h = new Float64Array(inner.inFeatures * inner.inFeatures);
    this.sum = new Float64Array(inner.inFeatures);
  }
  get kind() { return this.inner.kind; }
  get inFeatures() { return this.inner.inFeatures; }
  get outFeatures() { return this.inner.outFeatures; }
  get bytes() { return this.inner.bytes; }
  forward(x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    const n = this.inFeatures;
    const h = this.h;
    for (let b = 0; b < batch; b++) {
      const o = b * n;
      for (let i = 0; i < n; i++) {
        const xi = x[o + i]!;
        this.sum[i]! += xi;
        if (xi === 0) continue;
        const row = i * n;
        for (let j = i; j < n; j++) h[row + j]! += xi * x[o + j]!;
      }
    }
    this.count += batch;
    if (this.stop) throw STOP;
    return this.inner.forward(x, batch, out);
  }
  /** E[x xᵀ] (symmetric) and E[x]. */
  result(): InputStats {
    const n = this.inFeatures;
    const s = this.count ? 1 / this.count : 0;
    const out = new Float64Array(n * n);
    for (let i = 0; i < n; i++)
      for (let j = i; j < n; j++) {
        const v = this.h[i * n + j]! * s;
        out[i * n + j] = v;
        out[j * n + i] = v;
      }
    return { h: out, mean: this.sum.map((v) => v * s), tokens: this.count };
  }
}

export interface HessianOptions {
  ctx: number;
  bos: number;
  /** only these layers (default: every linear layer) */
  names?: readonly string[];
  onProgress?: Progress;
}

/** E[x xᵀ] and E[x] of the inputs of the named linear layers, running `tokens` in chunks of ctx (BOS first). */
export async function collectHessians(config: LlamaConfig, weights: Map<string, StoredTensor>, backend: Backend, tokens: readonly number[], opts: HessianOptions): Promise<Map<string, InputStats>> {
  const want = opts.names ? new Set(opts.names.map(inputSite)) : null;
  const recorders = new Map<string, HessianRecorder>();
  const model = await LlamaModel.build(config, weights, backend, {
    wrapLinear: (name, l) => {
      const site = inputSite(name);
      if (site !== name || (want && !want.has(site))) return l;
      const r = new HessianRecorder(l);
      recorders.set(site, r);
      return r;
    },
  });
  if (want && recorders.size > 0) {
    const last = [...recorders.keys()].reduce((a, b) => (forwardRank(b) > forwardRank(a) ? b : a));
    recorders.get(last)!.stop = true;
  }
  const body = Math.max(1, Math.min(opts.ctx, config.seqLen) - 1);
  const chunks = Math.ceil(tokens.length / body);
  for (let i = 0; i < chunks; i++) {
    const chunk = [opts.bos, ...tokens.slice(i * body, (i + 1) * body)];
    const cache = model.newCache();
    try {
      await model.forward([{ tokens: chunk, cache }]);
    } catch (e) {
      if (e !== STOP) throw e;
    } finally {
      cache.dispose?.();
    }
    opts.onProgress?.({ phase: 'calibrate', done: i + 1, total: chunks });
  }
  const bySite = new Map<string, InputStats>();
  for (const [site, r] of recorders) bySite.set(site, r.result());
  const out = new Map<string, InputStats>();
  const names = opts.names ?? [...linearNames(config), 'output'];
  for (const name of names) {
    const h = bySite.get(inputSite(name));
    if (h) out.set(name, h);
  }
  return out;
}
