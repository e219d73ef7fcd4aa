#!/usr/bin/env node
/**
 * bench-csr-int8-ab — A/B of the two int8 CSR kernels in one process (issue 4's zero-skipping
 * target, issue 7's int8 path): the byte-gather kernel csrPadI8 (lists of byte offsets col, int8
 * activations) against csrPadI32 (the f32 lists, entries col·4, activations widened to i32 and
 * gathered into i32x4 lanes), which the wasm backend now runs. Both are timed as whole calls on
 * the same weights: "new" is the backend's own matmulI8 / matmulTernary; "old" stages the
 * activations and runs csrPadI8 through the same worker pool, as the backend did before. The
 * same op on weights without zeros (the lut / signs kernels the backend picks at 0 % zeros) gives
 * the "× vs 0 % zeros" ratio. Cases are interleaved round by round; medians, with the load average.
 *
 *   node scripts/bench-csr-int8-ab.mjs [--threads 1,2] [--shape 4096x4096] [--zeros 0.95,0.99] [--rounds 15] [-o out.json]
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { WasmBackend } from '../dist/backend/wasm/wasm-backend.js';
import { buildPadSparse, CSR_X } from '../dist/backend/wasm/layouts.js';
import { quantize } from '../dist/quant/weight-quantizers.js';
import { quantizeInt8PerToken, quantizeTernaryPerToken } from '../dist/quant/activation-quantizers.js';
import { installCachedCostModel } from '../dist/sparse/cost-cache.js';

const { values: a } = parseArgs({ options: { threads: { type: 'string', default: '1,2' }, shape: { type: 'string', default: '4096x4096' }, zeros: { type: 'string', default: '0.95,0.99' }, rounds: { type: 'string', default: '15' }, out: { type: 'string', short: 'o' } } });
const [rows, cols] = a.shape.split('x').map(Number);
const rounds = Number(a.rounds);
function uniform(n, seed) {
  let s = seed >>> 0;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  return v;
}
const w = uniform(rows * cols, 4242), x = uniform(cols, 99);
const q = quantizeInt8PerToken(x, 1, cols).q, u = quantizeTernaryPerToken(x, 1, cols);
const results = [];
for (const threads of a.threads.split(',').map(Number)) {
  const be = await WasmBackend.create({ threads });
  installCachedCostModel(threads, String(be.describe().simd));
  const H = be.heap, k = be.kernels, par = threads > 1;
  const y = new Int32Array(rows);
  const h0 = await be.uploadTernary(quantize(w, rows, cols, 'threshold:0').tensor);
  for (const z of a.zeros.split(',').map(Number)) {
    const t = quantize(w, rows, cols, `percentile:${z * 100}`).tensor;
    const h = await be.uploadTernary(t);
    const s1 = buildPadSparse(H, t, 1);
    const out = H.alloc(rows * 4, 'ab out'), qp = H.alloc(cols, 'ab q'), pl = H.alloc(u.plus.length * 4, 'ab plus'), mi = H.alloc(u.minus.length * 4, 'ab minus'), ui = H.alloc(cols, 'ab trits');
    const old = async () => {
      await be.pool.run('csrPadI8', [s1.offs, s1.idx, s1.perm, CSR_X, 0, 1, out, rows], rows, par);
      y.set(H.i32.subarray(out >> 2, (out >> 2) + rows));
    };
    const cases = {
      'i8 0%': () => be.matmulI8(h0, q, 1, y),
      'i8 old': async () => (H.i8.set(q, qp), H.u8.copyWithin(CSR_X, qp, qp + cols), (H.i8[CSR_X + cols] = 0), old()),
      'i8 new': () => be.matmulI8(h, q, 1, y),
      'ternary 0%': () => be.matmulTernary(h0, u, y),
      'ternary old': async () => {
        H.u32.set(u.plus, pl >> 2);
        H.u32.set(u.minus, mi >> 2);
        k.planesToI8(pl, mi, ui, 1, cols, u.wordsPerRow);
        H.u8.copyWithin(CSR_X, ui, ui + cols);
        H.i8[CSR_X + cols] = 0;
        return old();
      },
      'ternary new': () => be.matmulTernary(h, u, y),
    };
    // both kernels must agree before they are timed
    await cases['i8 new']();
    const want = y.slice();
    await cases['i8 old']();
    if (!want.every((v, i) => v === y[i])) throw new Error('csrPadI8 and csrPadI32 disagree');
    const ts = Object.fromEntries(Object.keys(cases).map((n) => [n, []]));
    for (const f of Object.values(cases)) for (let i = 0; i < 10; i++) await f();
    const load0 = loadavg()[0];
    for (let r = 0; r < rounds; r++)
      for (const [n, f] of Object.entries(cases))
        for (let i = 0; i < 20; i++) {
          const t0 = performance.now();
          await f();
          ts[n].push(performance.now() - t0);
        }
    const med = Object.fromEntries(Object.entries(ts).map(([n, v]) => [n, v.sort((p, q2) => p - q2)[v.length >> 1]]));
    const r = { rows, cols, zeros: z, threads, ternary_path: be.ternaryPath(h), i8_layout: be.chosenLayouts(h).i8, load_avg: [load0, loadavg()[0]].map((v) => Math.round(v * 100) / 100), median_ms: med, new_over_old: { i8: med['i8 old'] / med['i8 new'], ternary: med['ternary old'] / med['ternary new'] }, vs_zeros0: { i8_new: med['i8 0%'] / med['i8 new'], i8_old: med['i8 0%'] / med['i8 old'], ternary_new: med['ternary 0%'] / med['ternary new'], ternary_old: med['ternary 0%'] / med['ternary old'] } };
    results.push(r);
    process.stdout.write(`${rows}×${cols} ${z * 100} % zeros, ${threads} thread(s), load ${r.load_avg.join('→')}: int8 old ${med['i8 old'].toFixed(3)} → new ${med['i8 new'].toFixed(3)} ms (${r.new_over_old.i8.toFixed(2)}×; vs 0 % ${r.vs_zeros0.i8_old.toFixed(2)}× → ${r.vs_zeros0.i8_new.toFixed(2)}×), ternary old ${med['ternary old'].toFixed(3)} → new ${med['ternary new'].toFixed(3)} ms (${r.new_over_old.ternary.toFixed(2)}×; vs 0 % ${r.vs_zeros0.ternary_old.toFixed(2)}× → ${r.vs_zeros0.ternary_new.toFixed(2)}×)\n`);
    be.release(h);
  }
  await be.dispose();
}
const report = { machine: { cpu: cpus()[0]?.model.trim(), cores: cpus().length, node: process.version }, results };
if (a.out) writeFileSync(a.out, JSON.stringify(report, null, 2) + '\n');
