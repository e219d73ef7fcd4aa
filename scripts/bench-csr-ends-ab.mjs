#!/usr/bin/env node
/**
 * bench-csr-ends-ab — A/B of how the worker pool splits the padded CSR kernels' rows (issue 7's
 * f32 GEMV, issue 4's int8 zero skipping), on 2 threads: the one-counter guided schedule (both
 * threads take the next chunk from the front, so a thread's rows change from call to call) against
 * the two-ended one (WorkerPool.run `ends`: the calling thread from the first row up, the worker
 * from the last row down, so each keeps its rows and their index lists stay in its core's cache),
 * and where the partial row sums between column blocks wait: in the output at the permuted rows
 * (before: the two threads write the same cache lines) or in a scratch in stored-row order (now).
 * Kernel jobs on the pool (x staged as the backend does) for old / ends / ends + stored-order
 * partials, whole backend calls (matmulF32 / matmulI8 on forced csr, WasmBackend.csrEnds switched
 * per case) and dense f32 (the `dense-f32-wasm` baseline of `tritwise bench sparsity`) run
 * interleaved round by round in one process; medians and 10th percentiles, with the load average.
 *
 *   node scripts/bench-csr-ends-ab.mjs [--shape 4096x11008] [--zeros 0.9,0.95,0.99,0.999] [--rounds 9] [-o out.json]
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { WasmBackend } from '../dist/backend/wasm/wasm-backend.js';
import { padSparseLists, CSR_X } from '../dist/backend/wasm/layouts.js';
import { csrColumnBlocks } from '../dist/sparse/cost-model.js';
import { randomTernaryTensor } from '../dist/nn/random-model.js';

const { values: a } = parseArgs({ options: { shape: { type: 'string', default: '4096x11008' }, zeros: { type: 'string', default: '0.9,0.95,0.99,0.999' }, rounds: { type: 'string', default: '9' }, threads: { type: 'string', default: '2' }, out: { type: 'string', short: 'o' } } });
const [rows, cols] = a.shape.split('x').map(Number);
const rounds = Number(a.rounds);
const threads = Number(a.threads);
const q_ = (v, f) => [...v].sort((p, q) => p - q)[Math.floor(v.length * f)];
const x = Float32Array.from({ length: cols }, (_, i) => Math.sin(i * 0.37) * 0.5);
const q8 = Int8Array.from({ length: cols }, (_, i) => ((i * 37) % 256) - 128);
const be = await WasmBackend.create({ threads });
const y = new Float32Array(rows), yi = new Int32Array(rows);
const dense = await be.uploadDense(Float32Array.from({ length: rows * cols }, (_, i) => ((Math.imul(i, 2654435761) >>> 16) & 0xff) / 255 - 0.5), rows, cols);
const H = be.heap;
const sc = H.alloc(rows * 4, 'ab scales');
H.f32.fill(1, sc >> 2, (sc >> 2) + rows);
const out = H.alloc(rows * 4, 'ab out'), part = H.alloc(rows * 4, 'ab partial sums'), qp = H.alloc(cols, 'ab q');
H.i8.set(q8, qp);
const put = (arr) => {
  const p = H.alloc(Math.max(arr.byteLength, 4), 'ab lists');
  new Uint8Array(H.memory.buffer, p, arr.byteLength).set(new Uint8Array(arr.buffer, arr.byteOffset, arr.byteLength));
  return p;
};
const results = [];
for (const z of a.zeros.split(',').map(Number)) {
  const t = randomTernaryTensor(rows, cols, 7 + Math.round(z * 1000), { density: 1 - z, groupSize: 0 });
  const h = await be.uploadTernary(t, { layout: 'csr' });
  const nb = csrColumnBlocks({ cols, density: 1 - z });
  const l = padSparseLists(t, 4, nb);
  const L = { offs: put(l.offs), idx: put(l.idx), perm: put(l.perm) };
  const on = (ends, f) => async () => {
    be.csrEnds = ends;
    await f();
  };
  const stageF = () => {
    H.f32.set(x, CSR_X >> 2);
    H.f32[(CSR_X >> 2) + cols] = 0;
  };
  const jobF = (ends, p) => async () => (stageF(), be.pool.run('csrPadF32', [L.offs, L.idx, L.perm, CSR_X, 0, 1, nb, sc, 0, out, p, rows], rows, true, ends));
  const jobI = (ends, p) => async () => (be.kernels.widenI8(qp, CSR_X, 1, cols, 0), be.pool.run('csrPadI32', [L.offs, L.idx, L.perm, CSR_X, 0, 1, nb, out, p, rows], rows, true, ends));
  const cases = {
    'f32 job old': jobF(false, 0),
    'f32 job ends': jobF(true, 0),
    'f32 job ends+part': jobF(true, part),
    'i8 job old': jobI(false, 0),
    'i8 job ends+part': jobI(true, part),
    'f32 guided': on(false, () => be.matmulF32(h, x, 1, y)),
    'f32 ends': on(true, () => be.matmulF32(h, x, 1, y)),
    'i8 guided': on(false, () => be.matmulI8(h, q8, 1, yi)),
    'i8 ends': on(true, () => be.matmulI8(h, q8, 1, yi)),
    'dense-f32-wasm': () => be.matmulDense(dense, x, 1, y),
  };
  const ts = Object.fromEntries(Object.keys(cases).map((n) => [n, []]));
  for (const f of Object.values(cases)) for (let i = 0; i < 3; i++) await f();
  const load0 = loadavg()[0];
  for (let r = 0; r < rounds; r++)
    for (const [n, f] of Object.entries(cases))
      for (let i = 0; i < (n.startsWith('dense') ? 3 : 25); i++) {
        const t0 = performance.now();
        await f();
        ts[n].push(performance.now() - t0);
      }
  be.csrEnds = true;
  const med = Object.fromEntries(Object.entries(ts).map(([n, v]) => [n, q_(v, 0.5)]));
  const p10 = Object.fromEntries(Object.entries(ts).map(([n, v]) => [n, q_(v, 0.1)]));
  const r = { rows, cols, zeros: z, threads, load_avg: [load0, loadavg()[0]].map((v) => Math.round(v * 100) / 100), median_ms: med, p10_ms: p10, blocks: nb, ends_over_guided: { f32_median: med['f32 guided'] / med['f32 ends'], f32_p10: p10['f32 guided'] / p10['f32 ends'], i8_median: med['i8 guided'] / med['i8 ends'], i8_p10: p10['i8 guided'] / p10['i8 ends'] }, new_over_old_job: { f32_ends: med['f32 job old'] / med['f32 job ends'], f32_ends_part: med['f32 job old'] / med['f32 job ends+part'], i8_ends_part: med['i8 job old'] / med['i8 job ends+part'] }, dense_over_f32_ends: med['dense-f32-wasm'] / med['f32 ends'] };
  results.push(r);
  const f = (v) => v.toFixed(3);
  process.stdout.write(`${rows}×${cols} ${z * 100} % zeros, ${nb} block(s), ${threads} threads, load ${r.load_avg.join('→')}: jobs f32 old ${f(med['f32 job old'])} → ends ${f(med['f32 job ends'])} → ends+part ${f(med['f32 job ends+part'])} ms (${f(r.new_over_old_job.f32_ends_part)}×), int8 old ${f(med['i8 job old'])} → ends+part ${f(med['i8 job ends+part'])} (${f(r.new_over_old_job.i8_ends_part)}×); calls f32 guided ${f(med['f32 guided'])} → ends ${f(med['f32 ends'])} ms (${f(r.ends_over_guided.f32_median)}× median, ${f(r.ends_over_guided.f32_p10)}× p10); int8 ${f(med['i8 guided'])} → ${f(med['i8 ends'])} (${f(r.ends_over_guided.i8_median)}× / ${f(r.ends_over_guided.i8_p10)}×); dense ${f(med['dense-f32-wasm'])} (${r.dense_over_f32_ends.toFixed(1)}× f32 ends)\n`);
  be.release(h);
}
be.release(dense);
await be.dispose();
const report = { machine: { cpu: cpus()[0]?.model.trim(), cores: cpus().length, node: process.version }, results };
if (a.out) writeFileSync(a.out, JSON.stringify(report, null, 2) + '\n');
