/**
 * calibration — run the full-precision model over calibration text and record, for every linear
 * layer, the mean squared activation of each input column:  h_c = E[x_c²]  over all tokens.
 * The `calibrated` quantizer weights its error by h (calibrated.ts).
 */
import type { Backend } from '../backend/backend.js';
import type { StoredTensor } from '../io/weights-file.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import type { Linear } from '../nn/linear.js';
import { LlamaModel } from '../nn/llama.js';

export type Progress = (p: { phase: 'calibrate' | 'quantize'; done: number; total: number; name?: string }) => void;

class Recorder implements Linear {
  readonly sum: Float64Array;
  count = 0;
  constructor(readonly inner: Linear) {
    this.sum = new Float64Array(inner.inFeatures);
  }
  get kind() { return this.inner.kind; }
  get inFeatures() { return this.inner.inFeatures; }
  get outFeatures() { return this.inner.outFeatures; }
  get bytes() { return this.inner.bytes; }
  forward(x: Float32Array, batch: number, out?: Float32Array): Promise<Float32Array> {
    const n = this.inFeatures;
    for (let b = 0; b < batch; b++) for (let c = 0; c < n; c++) this.sum[c]! += x[b * n + c]! * x[b * n + c]!;
    this.count += batch;
    return this.inner.forward(x, batch, out);
  }
}

/** Mean x² per input column of every linear layer, over `tokens` split into chunks of `ctx` (each after BOS). */
export async function collectActivationStats(
  config: LlamaConfig,
  weights: Map<string, StoredTensor>,
  backend: Backend,
  tokens: readonly number[],
  opts: { ctx: number; bos: number; onProgress?: Progress },
): Promise<Map<string, Float64Array>> {
  const recorders = new Map<string, Recorder>();
  const model = await LlamaModel.build(config, weights, backend, {
    wrapLinear: (name, l) => {
      const r = new Recorder(l);
      recorders.set(name, r);
      return r;
    },
  });
  const body = Math.max(1, Math.min(opts.ctx, config.seqLen) - 1);
  const chunks = Math.ceil(tokens.length / body);
  for (let i = 0; i < chunks; i++) {
    const chunk = [opts.bos, ...tokens.slice(i * body, (i + 1) * body)];
    const cache = model.newCache();
    try {
      await model.forward([{ tokens: chunk, cache }]);
    } finally {
      cache.dispose();
    }
    opts.onProgress?.({ phase: 'calibrate', done: i + 1, total: chunks });
  }
  const stats = new Map<string, Float64Array>();
  for (const [name, r] of recorders) stats.set(name, r.count ? r.sum.map((s) => s / r.count) : r.sum);
  return stats;
}
