#!/usr/bin/env node
/**
 * probe-csr-i32-gathers — EXPERIMENT (reverted with src/kernels/sparse-x.ts in the next commit):
 * csrPadI32 against its scalar / mixed / shuffle-free gather variants (issue 4's 95 % int8 call),
 * in one process, interleaved: whole matmulI8 calls on the pool (the backend's own call with the
 * pool's 'csrPadI32' job renamed to the variant, so staging, widening and hand-off are identical)
 * and, with --bare, the kernel alone on the calling thread over all rows. Every variant must give
 * the baseline's i32 outputs bit for bit before it is timed. Rounds rotate the order; 3 untimed +
 * 20 timed calls per case and round; medians; load average before and after.
 *
 *   node scripts/probe-csr-i32-gathers.mjs [--threads 1,2] [--zeros 0.95,0.99] [--rounds 15] [--bare] [--vars csrPadI32,csrPadI32S2,…]
 */
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { WasmBackend } from '../dist/backend/wasm/wasm-backend.js';
import { quantize } from '../dist/quant/weight-quantizers.js';
import { quantizeInt8PerToken } from '../dist/quant/activation-quantizers.js';
import { installCachedCostModel } from '../dist/sparse/cost-cache.js';

const { values: a } = parseArgs({ options: { threads: { type: 'string', default: '1,2' }, shape: { type: 'string', default: '4096x4096' }, zeros: { type: 'string', default: '0.95,0.99' }, rounds: { type: 'string', default: '15' }, vars: { type: 'string', default: 'csrPadI32,csrPadI32S8,csrPadI32S2,csrPadI32S16T,csrPadI32MT,csrPadI32MT16,csrPadI32M2,csrPadI32Z,csrPadI32ZL' }, bare: { type: 'boolean', default: false } } });
const [rows, cols] = a.shape.split('x').map(Number);
function uniform(n, seed) {
  let s = seed >>> 0;
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = ((s = (Math.imul(s, 1103515245) + 12345) >>> 0) / 2 ** 32) - 0.5;
  return v;
}
const w = uniform(rows * cols, 4242), x = uniform(cols, 99);
const q = quantizeInt8PerToken(x, 1, cols).q;
const vars = a.vars.split(',');
const med = (v) => v.sort((p, q2) => p - q2)[v.length >> 1];
console.log(`${process.version}, ${cpus()[0]?.model.trim()}, ${cpus().length} cores`);
for (const threads of a.threads.split(',').map(Number)) {
  const be = await WasmBackend.create({ threads });
  installCachedCostModel(threads, String(be.describe().simd));
  const pool = be.pool, run = pool.run.bind(pool);
  let cur = 'csrPadI32', args = null;
  pool.run = (name, jobArgs, ...rest) => {
    if (name === 'csrPadI32') (args = jobArgs), (name = cur);
    return run(name, jobArgs, ...rest);
  };
  const y = new Int32Array(rows);
  for (const z of a.zeros.split(',').map(Number)) {
    const h = await be.uploadTernary(quantize(w, rows, cols, `percentile:${z * 100}`).tensor);
    cur = 'csrPadI32';
    await be.matmulI8(h, q, 1, y);
    if (!args) throw new Error('the backend did not run csrPadI32 on these weights');
    const want = y.slice();
    for (const v of vars) {
      cur = v;
      y.fill(7);
      await be.matmulI8(h, q, 1, y);
      if (!want.every((u, i) => u === y[i])) throw new Error(`${v} disagrees with csrPadI32`);
    }
    const tc = Object.fromEntries(vars.map((n) => [n, []])), tb = Object.fromEntries(vars.map((n) => [n, []]));
    const load0 = loadavg()[0];
    for (let r = 0; r < Number(a.rounds); r++) {
      for (const v of vars.slice(r % vars.length).concat(vars.slice(0, r % vars.length))) {
        cur = v;
        for (let i = 0; i < 3; i++) await be.matmulI8(h, q, 1, y);
        for (let i = 0; i < 20; i++) {
          const t0 = performance.now();
          await be.matmulI8(h, q, 1, y);
          tc[v].push(performance.now() - t0);
        }
        if (!a.bare) continue;
        const f = be.kernels[v];
        for (let i = 0; i < 20; i++) {
          const t0 = performance.now();
          f(...args, 0, rows);
          tb[v].push(performance.now() - t0);
        }
      }
    }
    const c0 = med(tc[vars[0]]), b0 = a.bare ? med(tb[vars[0]]) : 0;
    const load = [load0, loadavg()[0]].map((v) => v.toFixed(2)).join('→');
    console.log(`${rows}×${cols} ${z * 100} % zeros, ${threads} thread(s), load ${load}: ` + vars.map((v) => `${v} ${med(tc[v]).toFixed(3)} ms ${(c0 / med(tc[v])).toFixed(3)}×` + (a.bare ? ` (bare ${med(tb[v]).toFixed(3)} ${(b0 / med(tb[v])).toFixed(3)}×)` : '')).join(' | '));
    be.release(h);
  }
  await be.dispose();
}
