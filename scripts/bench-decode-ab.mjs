#!/usr/bin/env node
// Side-by-side decode A/B on the BitNet-0.7B-shaped random model (eval/model-bench.ts's model,
// Q8_K activations): one wasm backend per int8 lookup-kernel choice (the backend option `lut`:
// auto = pairs for the model's grouped weights, triples, pairs), the same weights, decode rounds
// interleaved in one process (alternating order), medians of tokens/s. With 1 thread it also
// reports process CPU time per token, which a loaded machine's preemption does not inflate.
// A variant `base` runs another checkout's build (env AB_BASE=/path/to/checkout, built) with its
// default options: the same decode before and after a change, in one process.
// Usage: node scripts/bench-decode-ab.mjs [threads=2] [rounds=5] [decode=32] [variants=auto,triples] [layers=24]
import { createBackend } from '../dist/backend/registry.js';
import { defaultConfig, linearNames } from '../dist/nn/llama-config.js';
import { LlamaModel } from '../dist/nn/llama.js';
import { randomTernaryWeights } from '../dist/nn/random-model.js';
import { argmax } from '../dist/nn/sampling.js';
import { loadavg } from 'node:os';

const [threads = 2, rounds = 5, N = 32] = process.argv.slice(2, 5).map(Number);
const variants = (process.argv[5] ?? 'auto,triples').split(',');
const layers = Number(process.argv[6] ?? 24);
const config = defaultConfig({ dim: 1536, hiddenDim: 4096, nLayers: layers, nHeads: 16, vocabSize: 32000, seqLen: N + 64 });
const weights = randomTernaryWeights(config, 1);
const activations = new Map(linearNames(config).filter((n) => n !== 'output').map((n) => [n, 'q8k']));
const models = [];
for (const lut of variants) {
  if (lut === 'base') {
    if (!process.env.AB_BASE) throw new Error('variant base needs AB_BASE=/path/to/a built checkout');
    const reg = await import(`${process.env.AB_BASE}/dist/backend/registry.js`);
    const { LlamaModel: BaseModel } = await import(`${process.env.AB_BASE}/dist/nn/llama.js`);
    const { randomTernaryWeights: baseWeights } = await import(`${process.env.AB_BASE}/dist/nn/random-model.js`);
    const be = await reg.createBackend('wasm', { threads });
    // its own copy of the same seeded weights (its classes, its instanceof checks)
    models.push({ lut, be, m: await BaseModel.build(config, baseWeights(config, 1), be, { activations }), ms: [], cpu: [], ids: null });
    continue;
  }
  const be = await createBackend('wasm', { threads, lut });
  models.push({ lut, be, m: await LlamaModel.build(config, weights, be, { activations }), ms: [], cpu: [], ids: null });
}
async function decode(v) {
  const cache = v.m.newCache();
  const ids = [];
  try {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    let tok = 1;
    for (let i = 0; i < N; i++) {
      tok = argmax((await v.m.forward([{ tokens: [tok], cache }]))[0]);
      ids.push(tok);
    }
    const ms = performance.now() - t0;
    const c = process.cpuUsage(c0);
    return { ms, cpu: (c.user + c.system) / 1000, ids };
  } finally {
    cache.dispose();
  }
}
for (const v of models) await decode(v); // warm-up: layouts are built on first use
const load0 = loadavg()[0];
for (let r = 0; r < rounds; r++) {
  for (const v of r % 2 ? [...models].reverse() : models) {
    const d = await decode(v);
    v.ms.push(d.ms);
    v.cpu.push(d.cpu);
    v.ids = d.ids;
  }
}
const med = (a) => { const s = [...a].sort((x, y) => x - y); return s[s.length >> 1]; };
console.log(`0.7B shape (${layers} layers), decode ${N} tokens from BOS, ${threads} threads, ${rounds} rounds, node ${process.version}, ${models[0].be.describe().simd}, load ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
for (const v of models) {
  const same = v.ids.every((t, i) => t === models[0].ids[i]);
  console.log(`  lut ${v.lut.padEnd(8)} decode ${(1000 * N / med(v.ms)).toFixed(2)} tok/s (median of ${rounds}; best ${(1000 * N / Math.min(...v.ms)).toFixed(2)})${threads === 1 ? `, CPU ${(med(v.cpu) / N).toFixed(2)} ms/token` : ''}${same ? '' : '  IDS DIFFER'}`);
}
for (let i = 1; i < models.length; i++) {
  const ratios = models[i].ms.map((t, k) => models[0].ms[k] / t);
  console.log(`  ${models[i].lut} over ${models[0].lut}: ${(med(models[0].ms) / med(models[i].ms)).toFixed(3)}× (median of per-round ratios ${med(ratios).toFixed(3)})`);
}
for (const v of models) await v.be.dispose();
