#!/usr/bin/env node
/**
 * measure-plan-qat — issue 6's 2.5-bit target with quantization-aware fine-tuning of the plan
 * (src/train/plan-qat.ts): stories260K quantized with gptq (act-order, 32-column groups) at fixed
 * per-layer depths, then trained towards the f32 model; perplexity on the 6-story protocol of
 * ../shared/data/README.md (ctx 512) at the plan's start and at snapshots along the run.
 *
 *   node scripts/measure-plan-qat.mjs [--plan-depths 1211…] [--steps 600] [--minutes 15]
 *        [--lr 2e-3] [--trit-lr 0.01] [--emb-lr 1e-3] [--batch 8] [--ctx 256] [--alpha 1]
 *        [--snapshots 100,200,400] [--threads 2] [--budget-minutes 60] [--backend wasm] [--data ../shared/data]
 *        [--plan-file plan.json]   (a plan instead of --plan-depths, e.g. with per-column depth maps;
 *                                   its trit bits then count only the kept trits plus 2 bits per column)
 *
 * Text: Hessians on stories 10..39; QAT on stories 10..963 (plus --extra-text, e.g. samples of the
 * f32 model from scripts/sample-teacher.mjs), validation (the trainer's) on
 * 964..983; scored: stories 0..5 (never trained or validated on; 6..9 are a margin). The
 * snapshots are scored after training (their weights are exported at those steps), so no choice
 * of the run depends on the scored stories. One JSON line per row on stdout.
 */
import { readFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Model } from '../dist/nn/model.js';
import { evaluatePerplexity, splitDocuments } from '../dist/eval/perplexity.js';
import { planQat } from '../dist/train/plan-qat.js';
import { planQatRealloc } from '../dist/train/plan-realloc.js';
import { MultiTritTensor } from '../dist/tensor/multi-trit-tensor.js';
import { TernaryTensor } from '../dist/tensor/ternary-tensor.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data' },
    backend: { type: 'string', default: 'wasm' },
    'plan-depths': { type: 'string', default: '12111112321212121122212212111222222' },
    steps: { type: 'string', default: '600' },
    minutes: { type: 'string', default: '15' },
    lr: { type: 'string', default: '2e-3' },
    'trit-lr': { type: 'string', default: '0.01' },
    'emb-lr': { type: 'string', default: '1e-3' },
    batch: { type: 'string', default: '8' },
    ctx: { type: 'string', default: '256' },
    alpha: { type: 'string', default: '1' },
    'trit-start': { type: 'string', default: 'f32' },
    snapshots: { type: 'string', default: '' },
    seed: { type: 'string', default: '1' },
    // data-parallel threads (parallel.ts), and a wall-time plan: cosine over this many minutes (then --minutes is ignored and --steps is a cap)
    threads: { type: 'string', default: '1' },
    'budget-minutes': { type: 'string' },
    // re-allocate the depths after this many steps (plan-realloc.ts), for --bits trit bits per weight
    'realloc-at': { type: 'string' },
    bits: { type: 'string', default: '2.5' },
    // more training text (e.g. scripts/sample-teacher.mjs's samples of the f32 model), appended to stories 10..963
    'extra-text': { type: 'string' },
    // a label copied into every row
    run: { type: 'string' },
    // a plan file (e.g. scripts/measure-column-depth.mjs --plan-out: per-column depth maps) instead of --plan-depths
    'plan-file': { type: 'string' },
  },
});
const D = a.data;
const start = /^(Once upon a time|One day)/;
const text = readFileSync(`${D}/tinystories_val_subset.txt`, 'utf8');
const docs = splitDocuments(text, start);
const model = await Model.load(`${D}/stories260K.bin`, { tokenizer: `${D}/tok512.bin`, backend: a.backend });
const tok = model.requireTokenizer();
const calibText = docs.slice(10, 40).join('\n\n');
const calibTokens = tok.encode(calibText, { bos: false });
const nVal = 20;
const trainText = docs.slice(10, docs.length - nVal).join('\n\n') + (a['extra-text'] ? '\n\n' + readFileSync(a['extra-text'], 'utf8') : '');
const valText = docs.slice(docs.length - nVal).join('\n\n');
const data = { train: Int32Array.from(tok.encode(trainText, { bos: true })), val: Int32Array.from(tok.encode(valText, { bos: true })), trainChars: trainText.length, valChars: valText.length };
const ppl = async (m) => (await evaluatePerplexity(m, text, { protocol: 'documents', docStart: start, limit: 6, ctx: 512 })).perplexity;
function bits(weights) {
  let n = 0, trit = 0, scale = 0;
  for (const t of weights.values()) {
    if (!(t instanceof TernaryTensor || t instanceof MultiTritTensor)) continue;
    const d = t instanceof MultiTritTensor ? t.depth : 1;
    const G = t.groupSize ? Math.ceil(t.cols / t.groupSize) : 0;
    n += t.rows * t.cols;
    // sub-layer depths: only the trits each column (row) has, plus a 2-bit depth per column (row)
    const cd = t.columnDepths, rd = t.rowDepths;
    if (cd) trit += 1.6 * t.rows * cd.reduce((x, y) => x + y, 0) + 2 * cd.length;
    else if (rd) trit += 1.6 * t.cols * rd.reduce((x, y) => x + y, 0) + 2 * rd.length;
    else trit += 1.6 * d * t.rows * t.cols;
    scale += 32 * t.rows * (1 + G);
  }
  return { trit_bits: +(trit / n).toFixed(3), scale_bits: +(scale / n).toFixed(3) };
}
const out = (row) => process.stdout.write(JSON.stringify(a.run ? { run: a.run, ...row } : row) + '\n');
const load = () => +os.loadavg()[0].toFixed(2);

const names = [];
for (let l = 0; l < model.config.nLayers; l++) for (const k of ['attention.wq', 'attention.wk', 'attention.wv', 'attention.wo', 'feed_forward.w1', 'feed_forward.w2', 'feed_forward.w3']) names.push(`layers.${l}.${k}`);
const depthString = (weights) => names.map((n) => { const t = weights.get(n); return t instanceof MultiTritTensor ? t.depth : t instanceof TernaryTensor ? 1 : 0; }).join('');
const ds = [...a['plan-depths']].map(Number);
if (ds.length !== names.length) throw new Error(`--plan-depths needs ${names.length} digits`);
const plan = a['plan-file'] ? JSON.parse(readFileSync(a['plan-file'], 'utf8')) : { quantizer: 'gptq', groupSize: 32, calibration: { tokens: calibTokens.length, actOrder: true }, layers: names.map((n, i) => ({ match: n, depth: ds[i] })) };
if (a['plan-file']) plan.calibration = { tokens: calibTokens.length, actOrder: true };
const t0 = performance.now();
const f32 = await ppl(model);
const q = await model.quantize(plan, { calibrationText: calibText });
const p0 = await ppl(q);
out({ row: 'plan-start', depths: a['plan-file'] ? depthString(q.weights) : a['plan-depths'], plan_file: a['plan-file'] ?? null, ...bits(q.weights), bytes: q.bytes, ppl: p0, f32, vs_f32: p0 / f32 - 1, load: load(), ms: Math.round(performance.now() - t0) });

const settings = { steps: Number(a.steps), lr: Number(a.lr), tritLr: Number(a['trit-lr']), embeddingLr: Number(a['emb-lr']), batch: Number(a.batch), ctx: Number(a.ctx), alpha: Number(a.alpha), tritStart: a['trit-start'], seed: Number(a.seed), evalChunks: 16, threads: Number(a.threads), ...(a['budget-minutes'] ? { budgetSeconds: Number(a['budget-minutes']) * 60 } : { maxSeconds: Number(a.minutes) * 60 }) };
const snapAt = new Set(a.snapshots ? a.snapshots.split(',').map(Number) : []);
const snaps = [];
let lastReport = null;
const t1 = performance.now();
const realloc = a['realloc-at'] ? { reallocAt: Number(a['realloc-at']), bits: Number(a.bits) } : null;
let reallocRow = null;
// SIGTERM / SIGINT stop training after the current step; the snapshots and the model as it is are still scored
const stop = new AbortController();
for (const sig of ['SIGTERM', 'SIGINT']) process.on(sig, () => { process.stderr.write(`${sig}: stopping after this step\n`); stop.abort(); });
const r = await (realloc ? planQatRealloc : planQat)(model.config, model.weights, q.weights, data, tok.bos, {
  ...settings,
  signal: stop.signal,
  ...(realloc ?? {}),
  onRealloc: (moves, depths) => {
    reallocRow = { row: 'realloc', at: realloc.reallocAt, bits: realloc.bits, depths: names.map((n) => depths.get(n)).join(''), moves: moves.map((m) => ({ name: m.name, d: m.depth, down: m.down === null ? null : +m.down.toFixed(5), up: m.up === null ? null : +m.up.toFixed(5) })), load: load() };
    out(reallocRow);
  },
  onStep: (s0, student) => {
    let s = s0;
    lastReport = s;
    if (realloc && reallocRow) s = { ...s, step: s.step + realloc.reallocAt };
    if (s.step % 25 === 0) process.stderr.write(`step ${s.step}/${s.steps} loss ${s.loss.toFixed(4)} ${s.tokens_per_second.toFixed(0)} tok/s ${s.elapsed_s.toFixed(0)} s load ${load()}\n`);
    if (snapAt.has(s.step)) snaps.push({ step: s.step, elapsed_s: s.elapsed_s, loss: s.loss, weights: student.export().weights });
  },
});
const train_s = (performance.now() - t1) / 1000;
const score = async (weights) => {
  const all = new Map(q.weights);
  for (const [k, v] of weights) all.set(k, v);
  const m = await Model.fromCheckpoint({ config: q.config, weights: all, activations: q.activations, tokenizer: tok }, { backend: model.backend });
  return ppl(m);
};
for (const s of snaps) {
  const p = await score(s.weights);
  out({ row: 'snapshot', step: s.step, tokens: s.step * settings.batch * settings.ctx, elapsed_s: +s.elapsed_s.toFixed(1), train_loss: s.loss, ppl: p, vs_f32: p / f32 - 1 });
}
const pf = await score(r.weights);
const ok = depthString(r.weights) === depthString(q.weights);
out({
  row: 'plan-qat', depths: depthString(r.weights), depths_unchanged: ok, ...bits(r.weights), ppl: pf, f32, vs_f32: pf / f32 - 1, before: p0,
  steps_done: r.train.steps_done + (r.first ? r.first.train.steps_done : 0), first_phase: r.first ? { steps: r.first.train.steps_done, changed: r.first.changed, probe_kl: r.probeKl, tokens: r.first.train.tokens, train_s: +r.first.train.elapsed_s.toFixed(1) } : null, stopped: r.train.stopped, train_s: +train_s.toFixed(1), tokens: r.train.tokens, final_loss: r.train.final_loss,
  val: r.train.history.map((h) => ({ step: h.step, ppl: +h.val_ppl.toFixed(4) })), changed: r.changed, weights_tuned: r.weightsTuned,
  settings, train_tokens: data.train.length, extra_text: a['extra-text'] ?? null, backend: a.backend, load_end: load(), last_step: lastReport && { step: lastReport.step, tok_s: +lastReport.tokens_per_second.toFixed(0) },
});
await model.dispose();
