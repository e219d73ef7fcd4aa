#!/usr/bin/env node
/**
 * bench-csr-call-ab — this build's padded CSR f32 GEMV (issue 7, `tritwise bench sparsity`'s csr
 * case) against another built checkout's (env AB_BASE=/path/to/checkout with dist/ built), in one
 * process, interleaved: both backends get the same seeded 4096×11008 weights forced to `csr`.
 *
 *   call   whole matmulF32 calls on the pool (x and y plain Float32Arrays, as in the sweep): the
 *          figure of record, staging, hand-off and copies included
 *   bare   the csrPadF32 kernel alone on the calling thread (sync, x staged once, lists from the
 *          backend's own upload): the loop's cost per stored entry
 *   dense  this build's dense-f32-wasm, the sweep's baseline, timed in the same rounds
 *   noskip this build's whole call with WasmBackend.csrSmallEntries = 0 (a small job always wakes
 *          a sleeping worker, as before): the A/B of the pool's skip rule alone (pool.ts)
 *
 * Rounds rotate the case order; each case runs 3 untimed calls then `--calls` timed ones per
 * round; medians of all timed calls and 10th percentiles, with the load average before and after.
 *
 *   AB_BASE=/tmp/base node scripts/bench-csr-call-ab.mjs [--zeros 0.95,0.99,0.999] [--rounds 15] [--calls 25] [--threads 2] [--cases call,bare,noskip,dense] [--evict] [-o out.json]
 *   --evict writes 64 MiB before every timed call (untimed): lists cold, as on the idle machine
 *   node scripts/bench-csr-call-ab.mjs --cases call,noskip --zeros 0.99,0.999 --rounds 40 --calls 15   (this build only)
 */
import { writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';

const { values: a } = parseArgs({ options: { shape: { type: 'string', default: '4096x11008' }, zeros: { type: 'string', default: '0.95,0.99,0.999' }, rounds: { type: 'string', default: '15' }, calls: { type: 'string', default: '25' }, threads: { type: 'string', default: '2' }, cases: { type: 'string', default: 'call,bare,dense' }, evict: { type: 'boolean', default: false }, out: { type: 'string', short: 'o' } } });
// without AB_BASE only this build runs (e.g. --cases call,noskip: the wake rule alone)
const pairs = [['new', new URL('..', import.meta.url).pathname]];
if (process.env.AB_BASE) pairs.unshift(['base', process.env.AB_BASE]);
else if (a.cases.split(',').some((c) => c === 'bare')) throw new Error('--cases bare compares builds: set AB_BASE=/path/to/a built checkout (the baseline)');
const [rows, cols] = a.shape.split('x').map(Number);
const rounds = Number(a.rounds), calls = Number(a.calls), threads = Number(a.threads);
const want = new Set(a.cases.split(','));
const builds = {};
for (const [name, root] of pairs) {
  const { WasmBackend } = await import(`${root}/dist/backend/wasm/wasm-backend.js`);
  const { randomTernaryTensor } = await import(`${root}/dist/nn/random-model.js`);
  const { CSR_X } = await import(`${root}/dist/backend/wasm/layouts.js`);
  builds[name] = { be: await WasmBackend.create({ threads }), randomTernaryTensor, CSR_X };
}
const x = Float32Array.from({ length: cols }, (_, i) => Math.sin(i * 0.37) * 0.5);
const y = new Float32Array(rows);
const nb = builds.new.be;
const dense = want.has('dense') ? await nb.uploadDense(Float32Array.from({ length: rows * cols }, (_, i) => ((Math.imul(i, 2654435761) >>> 16) & 0xff) / 255 - 0.5), rows, cols) : null;
// --evict: 64 MiB written before every timed call (untimed), so the index lists come from DRAM
const evictBuf = a.evict ? new Uint8Array(64 << 20) : null;
const q = (v, f) => [...v].sort((p, r) => p - r)[Math.floor(v.length * f)];
const results = [];
for (const z of a.zeros.split(',').map(Number)) {
  const cases = {};
  const hs = [];
  for (const [name, b] of Object.entries(builds)) {
    const t = b.randomTernaryTensor(rows, cols, 7 + Math.round(z * 1000), { density: 1 - z, groupSize: 0 });
    const h = await b.be.uploadTernary(t, { layout: 'csr' });
    hs.push([b.be, h]);
    await b.be.matmulF32(h, x, 1, y); // builds the padded lists
    const ref = Float32Array.from(y);
    b.ref = ref;
    if (want.has('call')) cases[`call ${name}`] = () => b.be.matmulF32(h, x, 1, y);
    if (want.has('noskip') && name === 'new')
      cases['call new noskip'] = async () => {
        const keep = b.be.csrSmallEntries;
        b.be.csrSmallEntries = 0;
        try {
          await b.be.matmulF32(h, x, 1, y);
        } finally {
          b.be.csrSmallEntries = keep;
        }
      };
    if (want.has('bare')) {
      // the backend's own lists, read back from its handle's layout (same as the call uses)
      const H = b.be.heap;
      const lay = h.pad4 ?? null;
      if (!lay) throw new Error('no padded layout on the handle');
      const out = H.alloc(rows * 4, 'ab out'), part = H.alloc(rows * 4, 'ab part');
      const args = [lay.offs, lay.idx, lay.perm, b.CSR_X, 0, 1, lay.blocks, h.scales, h.gscales, out, lay.blocks > 1 ? part : 0, rows, 0, rows];
      cases[`bare ${name}`] = () => {
        H.f32.set(x, b.CSR_X >> 2);
        H.f32[(b.CSR_X >> 2) + cols] = 0;
        b.be.kernels.csrPadF32(...args);
      };
    }
  }
  let maxDiff = 0;
  if (builds.base) for (let i = 0; i < rows; i++) maxDiff = Math.max(maxDiff, Math.abs(builds.base.ref[i] - builds.new.ref[i]));
  if (dense) cases['dense-f32-wasm'] = () => nb.matmulDense(dense, x, 1, y);
  const names = Object.keys(cases);
  const ts = Object.fromEntries(names.map((n) => [n, []]));
  const load0 = loadavg()[0];
  for (let r = 0; r < rounds; r++)
    for (let j = 0; j < names.length; j++) {
      const n = names[(r + j) % names.length], f = cases[n];
      const k = n.startsWith('dense') ? 3 : calls;
      for (let i = 0; i < 3; i++) await f();
      for (let i = 0; i < k; i++) {
        if (evictBuf) evictBuf.fill(i + 1); // --evict: the lists come from memory, as on an idle machine
        const t0 = performance.now();
        await f();
        ts[n].push(performance.now() - t0);
      }
    }
  const med = Object.fromEntries(names.map((n) => [n, q(ts[n], 0.5)]));
  const p10 = Object.fromEntries(names.map((n) => [n, q(ts[n], 0.1)]));
  const min = Object.fromEntries(names.map((n) => [n, Math.min(...ts[n])]));
  const r = { rows, cols, zeros: z, threads, evict: a.evict, load_avg: [load0, loadavg()[0]].map((v) => Math.round(v * 100) / 100), max_abs_diff_base_new: maxDiff, median_ms: med, p10_ms: p10, min_ms: min };
  if (med['call new noskip']) r.skip_over_noskip = { median: med['call new noskip'] / med['call new'], p10: p10['call new noskip'] / p10['call new'], p90: q(ts['call new noskip'], 0.9) / q(ts['call new'], 0.9) };
  for (const c of ['call', 'bare']) if (med[`${c} base`]) r[`${c}_new_over_base`] = { median: med[`${c} base`] / med[`${c} new`], p10: p10[`${c} base`] / p10[`${c} new`], min: min[`${c} base`] / min[`${c} new`] };
  if (dense && med['call new']) r.dense_over_call_new = med['dense-f32-wasm'] / med['call new'];
  results.push(r);
  const f = (v) => (v === undefined ? '-' : v.toFixed(3));
  process.stdout.write(`${rows}×${cols} ${z * 100} % zeros, ${threads} threads, load ${r.load_avg.join('→')}, |base−new| ≤ ${maxDiff.toExponential(2)}\n`);
  for (const c of ['call', 'bare']) if (r[`${c}_new_over_base`]) process.stdout.write(`  ${c}: base ${f(med[`${c} base`])} → new ${f(med[`${c} new`])} ms (${f(r[`${c}_new_over_base`].median)}× median, ${f(r[`${c}_new_over_base`].p10)}× p10, ${f(r[`${c}_new_over_base`].min)}× min; p10 ${f(p10[`${c} base`])} → ${f(p10[`${c} new`])}, min ${f(min[`${c} base`])} → ${f(min[`${c} new`])})\n`);
  if (r.skip_over_noskip) process.stdout.write(`  skip rule: noskip ${f(med['call new noskip'])} → skip ${f(med['call new'])} ms (${f(r.skip_over_noskip.median)}× median, ${f(r.skip_over_noskip.p10)}× p10, ${f(r.skip_over_noskip.p90)}× p90)\n`);
  if (dense) process.stdout.write(`  dense-f32-wasm ${f(med['dense-f32-wasm'])} ms (${f(r.dense_over_call_new)}× the new call)\n`);
  for (const [be, h] of hs) be.release(h);
}
if (dense) nb.release(dense);
for (const b of Object.values(builds)) await b.be.dispose();
const report = { machine: { cpu: cpus()[0]?.model.trim(), cores: cpus().length, node: process.version }, results };
if (a.out) writeFileSync(a.out, JSON.stringify(report, null, 2) + '\n');
