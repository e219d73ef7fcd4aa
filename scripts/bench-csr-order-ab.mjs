#!/usr/bin/env node
/**
 * bench-csr-order-ab — A/B of the padded CSR row order (issue 7's f32 GEMV, issue 4's int8 zero
 * skipping): the same kernels (csrPadF32, csrPadI32) through the same worker pool on the same
 * lists, stored once in matrix row order (perm = identity) and once sorted by list length (what
 * layouts.ts padSparseLists now builds), so the only difference is whether consecutive rows run
 * their loops for the same number of iterations. Whole backend calls (matmulF32 / matmulI8, which
 * use the sorted lists), dense f32 and int8 on the same shape without zeros (the lookup kernel:
 * issue 4's "× vs 0 % zeros") are timed in the same rounds for the ratios. Cases are
 * interleaved round by round; medians and 10th percentiles, with the load average.
 *
 *   node scripts/bench-csr-order-ab.mjs [--threads 1,2] [--shape 4096x11008] [--zeros 0.95,0.99] [--rounds 15] [--no-dense] [-o out.json]
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { WasmBackend } from '../dist/backend/wasm/wasm-backend.js';
import { padSparseLists, CSR_X } from '../dist/backend/wasm/layouts.js';
import { csrColumnBlocks } from '../dist/sparse/cost-model.js';
import { randomTernaryTensor } from '../dist/nn/random-model.js';

const { values: a } = parseArgs({ options: { threads: { type: 'string', default: '1,2' }, shape: { type: 'string', default: '4096x11008' }, zeros: { type: 'string', default: '0.95,0.99' }, rounds: { type: 'string', default: '15' }, 'no-dense': { type: 'boolean', default: false }, out: { type: 'string', short: 'o' } } });
const [rows, cols] = a.shape.split('x').map(Number);
const rounds = Number(a.rounds);
const q_ = (v, f) => [...v].sort((p, q) => p - q)[Math.floor(v.length * f)];
const results = [];
const x = Float32Array.from({ length: cols }, (_, i) => Math.sin(i * 0.37) * 0.5);
const q8 = Int8Array.from({ length: cols }, (_, i) => ((i * 37) % 256) - 128);

/** The same lists in matrix row order (perm = identity), copied into the heap. */
function matrixOrder(H, t, blocks) {
  const { offs, idx, perm } = padSparseLists(t, 4, blocks);
  const lists = rows * 2;
  const at = new Uint32Array(rows); // stored position of matrix row r
  perm.forEach((r, p) => (at[r] = p));
  const no = new Uint32Array(offs.length), ni = new Uint16Array(idx.length);
  let n = 0;
  for (let k = 0; k < blocks; k++)
    for (let r = 0; r < rows; r++)
      for (let s = 0; s < 2; s++) {
        const i = k * lists + 2 * at[r] + s;
        no[k * lists + 2 * r + s] = n;
        ni.set(idx.subarray(offs[i], offs[i + 1]), n);
        n += offs[i + 1] - offs[i];
      }
  no[blocks * lists] = n;
  const put = (arr, what) => {
    const p = H.alloc(Math.max(arr.byteLength, 4), what);
    new Uint8Array(H.memory.buffer, p, arr.byteLength).set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
    return p;
  };
  return { offs: put(no, 'ab offs'), idx: put(ni, 'ab idx'), perm: put(Uint32Array.from({ length: rows }, (_, r) => r), 'ab perm'), sorted: { offs: put(offs, 'ab offs2'), idx: put(idx, 'ab idx2'), perm: put(perm, 'ab perm2') } };
}

for (const threads of a.threads.split(',').map(Number)) {
  const be = await WasmBackend.create({ threads });
  const H = be.heap, par = threads > 1;
  const y = new Float32Array(rows), yi = new Int32Array(rows);
  const dense = !a['no-dense'] ? await be.uploadDense(Float32Array.from({ length: rows * cols }, (_, i) => ((Math.imul(i, 2654435761) >>> 16) & 0xff) / 255 - 0.5), rows, cols) : null;
  const sc = H.alloc(rows * 4, 'ab scales');
  H.f32.fill(1, sc >> 2, (sc >> 2) + rows);
  const h0 = await be.uploadTernary(randomTernaryTensor(rows, cols, 5, { density: 1, groupSize: 0 }));
  const out = H.alloc(rows * 4, 'ab out'), qp = H.alloc(cols, 'ab q');
  H.i8.set(q8, qp);
  for (const z of a.zeros.split(',').map(Number)) {
    const t = randomTernaryTensor(rows, cols, 7 + Math.round(z * 1000), { density: 1 - z, groupSize: 0 });
    const nb = csrColumnBlocks({ cols, density: 1 - z });
    const L = matrixOrder(H, t, nb);
    const h = await be.uploadTernary(t, { layout: 'csr' });
    const stageF = () => {
      H.f32.set(x, CSR_X >> 2);
      H.f32[(CSR_X >> 2) + cols] = 0;
    };
    const f32 = (l) => async () => (stageF(), be.pool.run('csrPadF32', [l.offs, l.idx, l.perm, CSR_X, 0, 1, nb, sc, 0, out, 0, rows], rows, par));
    const i8 = (l) => async () => (be.kernels.widenI8(qp, CSR_X, 1, cols, 0), be.pool.run('csrPadI32', [l.offs, l.idx, l.perm, CSR_X, 0, 1, nb, out, 0, rows], rows, par));
    const cases = {
      'f32 matrix order': f32(L),
      'f32 sorted': f32(L.sorted),
      'i8 matrix order': i8(L),
      'i8 sorted': i8(L.sorted),
      'f32 call': () => be.matmulF32(h, x, 1, y),
      'i8 call': () => be.matmulI8(h, q8, 1, yi),
      'i8 0 % zeros': () => be.matmulI8(h0, q8, 1, yi),
      ...(dense ? { 'dense-f32-wasm': () => be.matmulDense(dense, x, 1, y) } : {}),
    };
    const ts = Object.fromEntries(Object.keys(cases).map((n) => [n, []]));
    for (const f of Object.values(cases)) for (let i = 0; i < 5; i++) await f();
    const load0 = loadavg()[0];
    for (let r = 0; r < rounds; r++)
      for (const [n, f] of Object.entries(cases))
        for (let i = 0; i < (n.startsWith('dense') ? 3 : 15); i++) {
          const t0 = performance.now();
          await f();
          ts[n].push(performance.now() - t0);
        }
    const med = Object.fromEntries(Object.entries(ts).map(([n, v]) => [n, q_(v, 0.5)]));
    const p10 = Object.fromEntries(Object.entries(ts).map(([n, v]) => [n, q_(v, 0.1)]));
    const r = { rows, cols, zeros: z, threads, blocks: nb, load_avg: [load0, loadavg()[0]].map((v) => Math.round(v * 100) / 100), median_ms: med, p10_ms: p10, sorted_over_matrix_order: { f32_median: med['f32 matrix order'] / med['f32 sorted'], f32_p10: p10['f32 matrix order'] / p10['f32 sorted'], i8_median: med['i8 matrix order'] / med['i8 sorted'], i8_p10: p10['i8 matrix order'] / p10['i8 sorted'] }, i8_call_vs_zeros0: med['i8 0 % zeros'] / med['i8 call'], ...(dense ? { call_vs_dense: { f32: med['dense-f32-wasm'] / med['f32 call'] } } : {}) };
    results.push(r);
    const f = (v) => v.toFixed(3);
    process.stdout.write(`${rows}×${cols} ${z * 100} % zeros, ${threads} thread(s), ${nb} block(s), load ${r.load_avg.join('→')}: f32 ${f(med['f32 matrix order'])} → ${f(med['f32 sorted'])} ms (${f(r.sorted_over_matrix_order.f32_median)}× median, ${f(r.sorted_over_matrix_order.f32_p10)}× p10); int8 ${f(med['i8 matrix order'])} → ${f(med['i8 sorted'])} ms (${f(r.sorted_over_matrix_order.i8_median)}× / ${f(r.sorted_over_matrix_order.i8_p10)}×); calls f32 ${f(med['f32 call'])} int8 ${f(med['i8 call'])} (int8 0 % zeros ${f(med['i8 0 % zeros'])}: ${r.i8_call_vs_zeros0.toFixed(2)}×)${dense ? `, dense ${f(med['dense-f32-wasm'])} (f32 call ${r.call_vs_dense.f32.toFixed(1)}× dense)` : ''}\n`);
    be.release(h);
  }
  if (dense) be.release(dense);
  be.release(h0);
  await be.dispose();
}
const report = { machine: { cpu: cpus()[0]?.model.trim(), cores: cpus().length, node: process.version }, results };
if (a.out) writeFileSync(a.out, JSON.stringify(report, null, 2) + '\n');
