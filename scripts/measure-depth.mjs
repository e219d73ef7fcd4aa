#!/usr/bin/env node
/**
 * measure-depth — issue 6's accuracy table for stories260K: perplexity on the 6-story protocol of
 * ../shared/data/README.md for greedy residual (twn), tryte rtn and gptq at depths 1..4 (per row
 * and per group), and auto-tuned plans at several bit budgets; prints one JSON line per row.
 *
 *   node scripts/measure-depth.mjs [--data ../shared/data] [--rows fixed,auto] [--group 32]
 *        [--backend ref|wasm] [--depths 1,2,3,4] [--quantizers twn,rtn,gptq] [--bits 2,2.5,3.2,4.8]
 *        [--act-order] [--tune '{"steps":300,"lr":0.005}'] [--calib 10:40] [--tune-text 10:end]
 *
 * Calibration (Hessians, sensitivities): stories 10..39 of tinystories_val_subset.txt; scale
 * tuning (--tune: trits frozen, scales + norms, KL to the f32 model) reads stories 10..end. Both
 * are disjoint from the 6 scored stories (0..5); stories 6..9 are left out as a margin.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Model } from '../dist/nn/model.js';
import { evaluatePerplexity, splitDocuments } from '../dist/eval/perplexity.js';
import { autoDepth, allocateBits } from '../dist/quant/auto-depth.js';
import { MultiTritTensor } from '../dist/tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../dist/tensor/ternary-tensor.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data' },
    rows: { type: 'string', default: 'fixed,auto' },
    group: { type: 'string', default: '32' },
    backend: { type: 'string', default: 'ref' },
    depths: { type: 'string', default: '1,2,3,4' },
    quantizers: { type: 'string', default: 'twn,rtn,gptq' },
    bits: { type: 'string', default: '2,2.5,3.2,4.8' },
    groups: { type: 'string', default: '0,32' },
    threads: { type: 'string', default: '1' },
    'act-order': { type: 'boolean', default: false },
    tune: { type: 'string' },
    calib: { type: 'string', default: '10:40' },
    'tune-text': { type: 'string', default: '10:end' },
    // fixed per-layer depths (one digit per layer, layers 0.. wq wk wv wo w1 w2 w3) instead of a sensitivity run
    'plan-depths': { type: 'string' },
  },
});
const D = a.data;
const start = /^(Once upon a time|One day)/;
const text = readFileSync(`${D}/tinystories_val_subset.txt`, 'utf8');
const docs = splitDocuments(text, start);
const range = (s) => s.split(':').map((x) => (x === 'end' ? docs.length : Number(x)));
const [c0, c1] = range(a.calib);
const [u0, u1] = range(a['tune-text']);
if (c0 < 6 || u0 < 6) throw new Error('calibration text must not overlap the 6 scored stories');
const calibText = docs.slice(c0, c1).join('\n\n');
const tuneText = docs.slice(u0, u1).join('\n\n');
const model = await Model.load(`${D}/stories260K.bin`, { tokenizer: `${D}/tok512.bin`, backend: a.backend, threads: Number(a.threads) });
const calibTokens = model.requireTokenizer().encode(calibText, { bos: false });
const tune = a.tune ? JSON.parse(a.tune) : undefined;
const tuneTokens = tune ? model.requireTokenizer().encode(tuneText, { bos: false }).length : 0;
const calibration = { tokens: calibTokens.length, ...(a['act-order'] ? { actOrder: true } : {}), ...(tune ? { tune: { ...tune, tokens: tuneTokens } } : {}) };
// Model.quantize encodes calibrationText: the Hessian part is its first calib_tokens tokens, the tuning part all of it
const quantText = tune ? `${calibText}\n\n${docs.slice(u0, u1).filter((_, i) => i + u0 < c0 || i + u0 >= c1).join('\n\n')}` : calibText;
const ppl = async (m) => (await evaluatePerplexity(m, text, { protocol: 'documents', docStart: start, limit: 6, ctx: 512 }));
/** stored bits per quantized weight: trits at 1.6 bits (base 3, 5 per byte) and f32 scales as saved (tryte: row + group scales; residual: per plane) */
function bits(m) {
  let n = 0, trit = 0, scale = 0;
  for (const t of m.weights.values()) {
    if (!(t instanceof TernaryTensor || t instanceof MultiTritTensor)) continue;
    const d = t instanceof MultiTritTensor ? t.depth : 1;
    const G = t.groupSize ? Math.ceil(t.cols / t.groupSize) : 0;
    const sets = t instanceof MultiTritTensor && t.form === 'residual' ? d : 1;
    n += t.rows * t.cols;
    trit += 1.6 * d * t.rows * t.cols;
    scale += 32 * sets * t.rows * (1 + G);
  }
  return { trit_bits: +(trit / n).toFixed(3), scale_bits: +(scale / n).toFixed(3) };
}
const out = (row) => process.stdout.write(JSON.stringify(row) + '\n');
const t0 = performance.now();
const f = await ppl(model);
out({ row: 'f32', bytes: model.bytes, ppl: f.perplexity, tokens: f.tokensScored, calib: a.calib, calib_tokens: calibTokens.length, act_order: a['act-order'], tune: tune ?? null, tune_text: tune ? a['tune-text'] : null, load: os.loadavg()[0], ms: Math.round(performance.now() - t0) });

if (a.rows.includes('fixed')) {
  for (const g of a.groups.split(',').map(Number)) {
    for (const q of a.quantizers.split(',')) {
      for (const d of a.depths.split(',').map(Number)) {
        const t = performance.now();
        const plan = { quantizer: q, depth: d, groupSize: g, calibration };
        const qm = await model.quantize(plan, { calibrationText: quantText });
        const r = await ppl(qm);
        out({ row: 'fixed', quantizer: q, depth: d, group: g, bytes: qm.bytes, ...bits(qm), ppl: r.perplexity, vs_f32: r.perplexity / f.perplexity - 1, tune_report: qm.info.tune ?? null, ms: Math.round(performance.now() - t) });
      }
    }
  }
}
const progress = (p) => { if (p.done % 50 === 0 || p.done === p.total) process.stderr.write(`${p.done}/${p.total} ${p.name ?? ''}\n`); };
if (a['plan-depths']) {
  const t = performance.now();
  const names = [];
  for (let l = 0; l < model.config.nLayers; l++) for (const k of ['attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'feed_forward.w1', 'feed_forward.w2', 'feed_forward.w3']) names.push(`layers.${l}.${k}`);
  const ds = [...a['plan-depths']].map(Number);
  if (ds.length !== names.length) throw new Error(`--plan-depths needs ${names.length} digits`);
  const plan = { quantizer: 'gptq', groupSize: Number(a.groups.split(',').at(-1)), calibration, layers: names.map((n, i) => ({ match: n, depth: ds[i] })) };
  const qm = await model.quantize(plan, { calibrationText: quantText, onProgress: progress });
  const r = await ppl(qm);
  out({ row: 'plan', depths: a['plan-depths'], group: plan.groupSize, bytes: qm.bytes, ...bits(qm), ppl: r.perplexity, vs_f32: r.perplexity / f.perplexity - 1, tune_report: qm.info.tune ?? null, ms: Math.round(performance.now() - t) });
}
if (a.rows.includes('auto')) {
  const bitsList = a.bits.split(',').map(Number);
  const t = performance.now();
  const base = { quantizer: 'gptq', groupSize: Number(a.groups.split(',').at(-1)), calibration: { ...calibration, tune: undefined } };
  const first = await autoDepth(model.config, model.weights, model.backend, base, { bits: bitsList[0], tokens: calibTokens, bos: model.requireTokenizer().bos });
  out({ row: 'sensitivity', ms: Math.round(performance.now() - t), base_nll: first.baseNll, layers: first.layers.map((l) => ({ name: l.name, s: l.sensitivity.map((x) => +x.toFixed(5)) })) });
  for (const budget of bitsList) {
    const t1 = performance.now();
    const alloc = allocateBits(first.layers, base, budget);
    alloc.plan.calibration = calibration;
    const qm = await model.quantize(alloc.plan, { calibrationText: quantText });
    const r = await ppl(qm);
    out({ row: 'auto', budget_bits: budget, bits: alloc.bits, group: base.groupSize, depths: alloc.layers.map((l) => l.depth).join(''), bytes: qm.bytes, ...bits(qm), ppl: r.perplexity, vs_f32: r.perplexity / f.perplexity - 1, tune_report: qm.info.tune ?? null, ms: Math.round(performance.now() - t1) });
  }
}
await model.dispose();
