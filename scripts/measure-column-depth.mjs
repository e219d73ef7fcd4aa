#!/usr/bin/env node
/**
 * measure-column-depth — issue 6's sub-layer allocation measurement on stories260K: depth chosen
 * per input column (or per output row) inside each layer by saliency, greedily under a bit budget
 * over the whole model, then gptq (act-order, 32-column groups) at those depths and perplexity on
 * the 6-story protocol. Prints one JSON line per row.
 *
 *   node scripts/measure-column-depth.mjs [--granularity column,row,layer] [--bits 2.5] [--min 1]
 *        [--max 3] [--unit 1|32] [--saliency gptq|diag] [--sens sens.json] [--data ../shared/data]
 *        [--backend wasm] [--plan-out prefix]
 *
 * `column` with `--saliency gptq` (the default) is the library's allocation, src/quant/column-depth.ts
 * (= `tritwise quantize --auto-bits b --granularity column`); `diag` and `row` are computed here.
 *
 * Saliency, per layer ℓ (f32 Hessian H = E[x xᵀ] of its inputs, stories 10..39):
 *  - column c at depth d (top d trits of D = max, step s·3^(D−d) on the row-group scale s of the
 *    D-trit tryte, rtn estimate):  e_c(d) = ω_c·Σ_r (w_rc − q_d(w_rc))², ω_c = 1/U_cc² (gptq.ts
 *    gptqSaliency: the share of H_cc that gptq's compensation leaves; --saliency diag: H_cc)
 *  - row r at depth d: gptq's own output error of the row, (w_r − ŵ_r)ᵀH(w_r − ŵ_r), with the
 *    layer quantized at uniform depth d (rows are independent in gptq, so this is exact)
 * Errors are put in NLL units by the layer's measured sensitivity (auto-depth.ts, s_ℓ(d)):
 * κ_ℓ = (s_ℓ(1) − s_ℓ(2)) / (E_ℓ(1) − E_ℓ(2)), E_ℓ(d) = Σ_u e_u(d). Then a greedy knapsack over
 * every (layer, unit): the step with the most κ·Δe per added trit (looking ahead over deeper
 * depths) while 1.6·Σ trits + map bits ≤ b·N, the map costing ⌈log2(max − min + 1)⌉ bits per
 * column (or row) of every layer.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { parseArgs } from 'node:util';
import { Model } from '../dist/nn/model.js';
import { evaluatePerplexity, splitDocuments } from '../dist/eval/perplexity.js';
import { autoDepth } from '../dist/quant/auto-depth.js';
import { collectHessians, inputSite } from '../dist/quant/hessian.js';
import { quantizeGptq, gptqSaliency, GPTQ_DEFAULTS } from '../dist/quant/gptq.js';
import { searchScale, roundToGrid } from '../dist/quant/tryte-grid.js';
import { MultiTritTensor } from '../dist/tensor/multi-trit-tensor.js';
import { allocateColumnDepths } from '../dist/quant/column-depth.js';
import { TernaryTensor } from '../dist/tensor/ternary-tensor.js';

const { values: a } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data' },
    backend: { type: 'string', default: 'wasm' },
    granularity: { type: 'string', default: 'column,row' },
    bits: { type: 'string', default: '2.5' },
    min: { type: 'string', default: '1' },
    max: { type: 'string', default: '3' },
    group: { type: 'string', default: '32' },
    'plan-out': { type: 'string' },
    // column saliency: gptq = 1/U_qq² (what a column's rounding error costs after gptq's compensation), diag = H_qq
    saliency: { type: 'string', default: 'gptq' },
    // cache of the per-layer sensitivities (JSON): read when it exists, else measured and written
    sens: { type: 'string' },
    // columns sharing one depth (32: whole 32-column words of a plane used or zero)
    unit: { type: 'string', default: '1' },
  },
});
const D = a.data;
const start = /^(Once upon a time|One day)/;
const text = readFileSync(`${D}/tinystories_val_subset.txt`, 'utf8');
const docs = splitDocuments(text, start);
const calibText = docs.slice(10, 40).join('\n\n');
const model = await Model.load(`${D}/stories260K.bin`, { tokenizer: `${D}/tok512.bin`, backend: a.backend, threads: 1 });
const tok = model.requireTokenizer();
const calibTokens = tok.encode(calibText, { bos: false });
const gs = Number(a.group);
const dMin = Number(a.min);
const dMax = Number(a.max);
const calibration = { tokens: calibTokens.length, actOrder: true };
const base = { quantizer: 'gptq', groupSize: gs, calibration };
const ppl = async (m) => (await evaluatePerplexity(m, text, { protocol: 'documents', docStart: start, limit: 6, ctx: 512 })).perplexity;
const out = (row) => process.stdout.write(JSON.stringify({ ...row, load: +os.loadavg()[0].toFixed(1) }) + '\n');
const t0 = performance.now();
const f32 = await ppl(model);
out({ row: 'f32', ppl: f32 });

// 1. per-layer sensitivities (the --auto-bits measurement) and the f32 Hessians
const ad = a.sens && existsSync(a.sens) ? JSON.parse(readFileSync(a.sens, 'utf8')) : await autoDepth(model.config, model.weights, model.backend, base, { bits: 2.5, tokens: calibTokens, bos: tok.bos });
if (a.sens && !existsSync(a.sens)) writeFileSync(a.sens, JSON.stringify({ layers: ad.layers }));
const hs = await collectHessians(model.config, model.weights, model.backend, calibTokens, { ctx: 256, bos: tok.bos });
out({ row: 'sensitivity', ms: Math.round(performance.now() - t0), layers: ad.layers.map((l) => ({ name: l.name, s: l.sensitivity.slice(0, 3).map((x) => +x.toFixed(5)) })) });

/** e[u][d] for d = 0..dMax of every unit of a layer (NaN where d < dMin). */
function columnErrors(w, rows, cols, H) {
  const G = Math.ceil(cols / gs);
  const e = Array.from({ length: cols }, () => new Float64Array(dMax + 1));
  const h = Float64Array.from({ length: cols }, (_, c) => H[c * cols + c]);
  const om = a.saliency === 'gptq' ? gptqSaliency(H, cols, { actOrder: true }) : h;
  for (let r = 0; r < rows; r++) {
    for (let g = 0; g < G; g++) {
      const c0 = g * gs, c1 = Math.min(cols, c0 + gs);
      const s = searchScale(w.subarray(r * cols + c0, r * cols + c1), 0, c1 - c0, (3 ** dMax - 1) / 2, h.subarray(c0, c1));
      for (let c = c0; c < c1; c++) {
        const x = w[r * cols + c];
        for (let d = 0; d <= dMax; d++) {
          const m = s * 3 ** (dMax - d);
          const q = d === 0 ? 0 : m * roundToGrid(x, m, (3 ** d - 1) / 2);
          e[c][d] += om[c] * (x - q) ** 2;
        }
      }
    }
  }
  return e;
}
function rowErrors(w, rows, cols, H) {
  const e = Array.from({ length: rows }, () => new Float64Array(dMax + 1));
  const tmp = new Float64Array(cols);
  for (let d = 1; d <= dMax; d++) {
    const q = quantizeGptq(w, rows, cols, d, H, { ...GPTQ_DEFAULTS, groupSize: gs, actOrder: true });
    const t = q.tensor;
    const n = t.toIntegers ? t.toIntegers() : null;
    const dense = t.toDense();
    for (let r = 0; r < rows; r++) {
      let s = 0;
      for (let c = 0; c < cols; c++) tmp[c] = w[r * cols + c] - dense[r * cols + c];
      for (let i = 0; i < cols; i++) { let z = 0; for (let j = 0; j < cols; j++) z += H[i * cols + j] * tmp[j]; s += tmp[i] * z; }
      e[r][d] = s;
    }
    void n;
  }
  e.forEach((x) => (x[0] = Infinity));
  return e;
}

for (const gran of a.granularity.split(',')) {
  for (const budgetBits of a.bits.split(',').map(Number)) {
    const t1 = performance.now();
    if (gran === 'column' && a.saliency === 'gptq') {
      // the library's allocation (src/quant/column-depth.ts), as `tritwise quantize --granularity column`
      const cd = await allocateColumnDepths(model.config, model.weights, model.backend, ad.layers, base, { bits: budgetBits, tokens: calibTokens, bos: tok.bos, min: dMin, max: dMax, unit: Number(a.unit) });
      if (a['plan-out']) writeFileSync(`${a['plan-out']}.${gran}.${budgetBits}.json`, JSON.stringify(cd.plan));
      const qm = await model.quantize(cd.plan, { calibrationText: calibText });
      const p = await ppl(qm);
      out({ row: 'plan', granularity: gran, saliency: 'gptq', unit: Number(a.unit), budget_bits: budgetBits, min: dMin, max: dMax, trit_bits: +cd.tritBits.toFixed(4), map_bits: +cd.mapBits.toFixed(4), total_bits: +cd.bits.toFixed(4), weights_at_depth: Object.fromEntries(cd.weightsAtDepth.map((n, d) => [d, n])), layer_depths: cd.plan.layers.map((r) => r.depth).join(''), bytes: qm.bytes, ppl: p, vs_f32: p / f32 - 1, ms: Math.round(performance.now() - t1) });
      continue;
    }
    const units = []; // { layer, idx, size, e, d, kappa }
    const layers = [];
    for (const l of ad.layers) {
      const src = model.weights.get(l.name);
      const [rows, cols] = src.shape;
      const H = hs.get(inputSite(l.name)).h;
      const byCol = gran === 'column';
      if (gran === 'layer') {
        layers.push({ name: l.name, rows, cols, units: [] });
        continue;
      }
      const e = byCol ? columnErrors(src.data, rows, cols, H) : rowErrors(src.data, rows, cols, H);
      const E = (d) => e.reduce((acc, x) => acc + x[d], 0);
      const kappa = Math.max(1e-12, (l.sensitivity[0] - l.sensitivity[1]) / Math.max(1e-30, E(1) - E(2)));
      const L = { name: l.name, rows, cols, byCol, units: [] };
      e.forEach((x, idx) => {
        const u = { L, idx, size: byCol ? rows : cols, e: x, d: dMin, kappa };
        L.units.push(u);
        units.push(u);
      });
      layers.push(L);
    }
    const N = layers.reduce((s, l) => s + l.rows * l.cols, 0);
    const mapBitsPer = Math.ceil(Math.log2(dMax - dMin + 1));
    const mapBits = layers.reduce((s, l) => s + mapBitsPer * (gran === 'column' ? l.cols : gran === 'row' ? l.rows : 0), 0);
    let trits = units.reduce((s, u) => s + u.size * u.d, 0);
    const budget = (budgetBits * N - mapBits) / 1.6;
    if (gran !== 'layer') {
      // greedy with look-ahead: repeatedly take the best (unit, deeper depth) by κΔe per trit
      for (;;) {
        let best = null, ratio = 0;
        for (const u of units) {
          for (let d = u.d + 1; d <= dMax; d++) {
            const extra = u.size * (d - u.d);
            if (trits + extra > budget) break;
            const r = (u.kappa * (u.e[u.d] - u.e[d])) / extra;
            if (r > ratio) { ratio = r; best = { u, d }; }
          }
        }
        if (!best) break;
        trits += best.u.size * (best.d - best.u.d);
        best.u.d = best.d;
      }
    }
    const rules = gran === 'layer'
      ? ad.layers.map((l) => ({ match: l.name, depth: l.depth }))
      : layers.map((l) => {
        const ds = l.units.map((u) => u.d);
        const mx = Math.max(...ds);
        if (ds.every((d) => d === mx) && mx > 0) return { match: l.name, depth: mx };
        return { match: l.name, depth: Math.max(1, mx), [l.byCol ? 'columnDepths' : 'rowDepths']: ds.join('') };
      });
    const plan = { ...base, layers: rules };
    if (a['plan-out']) writeFileSync(`${a['plan-out']}.${gran}.${budgetBits}.json`, JSON.stringify(plan));
    const qm = await model.quantize(plan, { calibrationText: calibText });
    let n = 0, tb = 0;
    for (const [name, t] of qm.weights) {
      if (!(t instanceof TernaryTensor || t instanceof MultiTritTensor)) continue;
      n += t.rows * t.cols;
      const rule = rules.find((r) => r.match === name);
      const cd = rule?.columnDepths, rd = rule?.rowDepths;
      tb += cd ? [...cd].reduce((s, x) => s + Number(x) * t.rows, 0) : rd ? [...rd].reduce((s, x) => s + Number(x) * t.cols, 0) : (t.depth ?? 1) * t.rows * t.cols;
    }
    const p = await ppl(qm);
    const hist = {};
    if (gran !== 'layer') for (const u of units) hist[u.d] = (hist[u.d] ?? 0) + u.size;
    out({ row: 'plan', granularity: gran, saliency: gran === 'column' ? a.saliency : null, budget_bits: budgetBits, min: dMin, max: dMax, trit_bits: +(1.6 * tb / N).toFixed(4), map_bits: +(mapBits / N).toFixed(4), total_bits: +((1.6 * tb + (gran === 'layer' ? 0 : mapBits)) / N).toFixed(4), weights_at_depth: hist, layer_depths: rules.map((r) => r.depth).join(''), ppl: p, vs_f32: p / f32 - 1, ms: Math.round(performance.now() - t1) });
  }
}
await model.dispose();
