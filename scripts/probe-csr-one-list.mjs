#!/usr/bin/env node
/**
 * probe-csr-one-list — the most any one-list-per-row layout of the padded CSR kernels could gain
 * (issue 7: a negated copy of the activations, or interleaved ± lists). Two layouts of the same
 * synthetic rows (random ascending columns, ±1 each with probability density/2), kernel alone on
 * the calling thread, x staged at CSR_X, one column block, rows sorted by padded list lengths:
 *   two    the backend's layout: a +1 list and a −1 list per row, each padded to a multiple of 8
 *   one    both lists' entries in the +1 list, padded once, the −1 list empty (wrong sums, timing
 *          only): one loop per row, half the padding, and still only x gathered
 * A real one-list layout pays more than `one`: the −x copy doubles the gathered bytes (and at 11008
 * f32 columns needs entries wider than u16 byte offsets), the negation a pass per call.
 * Interleaved rounds, medians and 10th percentiles, load average before and after. --evict writes
 * 64 MiB before every timed call (untimed): lists cold, as the idle machine sees them.
 *
 *   node scripts/probe-csr-one-list.mjs [--zeros 0.95,0.99,0.999] [--cols 11008] [--kernel f32|i32] [--rounds 30] [--evict]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { WasmBackend } from '../dist/backend/wasm/wasm-backend.js';
import { CSR_X } from '../dist/backend/wasm/layouts.js';
import { seededRandom } from '../dist/eval/random.js';

const { values: a } = parseArgs({ options: { zeros: { type: 'string', default: '0.95,0.99,0.999' }, cols: { type: 'string', default: '11008' }, kernel: { type: 'string', default: 'f32' }, rounds: { type: 'string', default: '30' }, evict: { type: 'boolean', default: false } } });
const evictBuf = a.evict ? new Uint8Array(64 << 20) : null;
const rows = 4096, cols = Number(a.cols), f32 = a.kernel === 'f32';
const be = await WasmBackend.create({ threads: 1 });
const H = be.heap, K = be.kernels;
const rng = seededRandom(99);
const rnd = () => rng.next();
const r8 = (n) => (n + 7) & ~7;
for (let c = 0; c < cols; c++) {
  if (f32) H.f32[(CSR_X >>> 2) + c] = Math.sin(c);
  else H.i32[(CSR_X >>> 2) + c] = ((c * 37) % 255) - 127;
}
H.i32[(CSR_X >>> 2) + cols] = 0;
const q = (v, f) => [...v].sort((p, r) => p - r)[Math.floor(v.length * f)];
for (const z of a.zeros.split(',').map(Number)) {
  const d = 1 - z;
  const two = Array.from({ length: rows }, () => {
    const p = [], m = [];
    for (let c = 0; c < cols; c++) {
      const u = rnd();
      if (u < d / 2) p.push(c * 4);
      else if (u < d) m.push(c * 4);
    }
    return [p, m];
  });
  const ptrs = [];
  const make = (lists) => {
    const order = lists.map((_, i) => i).sort((x, y) => r8(lists[x][0].length) - r8(lists[y][0].length) || r8(lists[x][1].length) - r8(lists[y][1].length) || x - y);
    const offs = [], idx = [];
    for (const r of order)
      for (const l of lists[r]) {
        offs.push(idx.length);
        for (const e of l) idx.push(e);
        while (idx.length % 8) idx.push(cols * 4);
      }
    offs.push(idx.length);
    const po = H.alloc(offs.length * 4), pi = H.alloc(idx.length * 2 + 16), pp = H.alloc(rows * 4), ps = H.alloc(rows * 4), out = H.alloc(rows * 4);
    ptrs.push(po, pi, pp, ps, out);
    H.u32.set(offs, po >>> 2);
    H.u16.set(idx, pi >>> 1);
    order.forEach((r, i) => ((H.u32[(pp >>> 2) + i] = r), (H.f32[(ps >>> 2) + r] = 1)));
    return { n: idx.length, run: f32 ? () => K.csrPadF32(po, pi, pp, CSR_X, 0, 1, 1, ps, 0, out, 0, rows, 0, rows) : () => K.csrPadI32(po, pi, pp, CSR_X, 0, 1, 1, out, 0, rows, 0, rows) };
  };
  const cs = { two: make(two), one: make(two.map(([p, m]) => [[...p, ...m], []])) };
  const names = Object.keys(cs), ts = { two: [], one: [] };
  for (let i = 0; i < 500; i++) for (const n of names) cs[n].run();
  const l0 = loadavg()[0];
  for (let r = 0; r < Number(a.rounds); r++)
    for (let j = 0; j < 2; j++) {
      const n = names[(r + j) % 2];
      for (let i = 0; i < 20; i++) {
        if (evictBuf) evictBuf.fill(i + 1);
        const t0 = performance.now();
        cs[n].run();
        ts[n].push(performance.now() - t0);
      }
    }
  const f = (v) => v.toFixed(4);
  console.log(`${a.kernel} ${rows}×${cols} ${z * 100} % zeros, 1 thread, kernel alone${a.evict ? ', cold lists' : ''}, load ${l0.toFixed(2)}→${loadavg()[0].toFixed(2)}: entries two ${cs.two.n}, one ${cs.one.n}`);
  console.log(`  two ${f(q(ts.two, 0.5))} ms (p10 ${f(q(ts.two, 0.1))}), one ${f(q(ts.one, 0.5))} ms (p10 ${f(q(ts.one, 0.1))}): one is ${(q(ts.two, 0.5) / q(ts.one, 0.5)).toFixed(3)}× median, ${(q(ts.two, 0.1) / q(ts.one, 0.1)).toFixed(3)}× p10`);
  for (const p of ptrs) H.free(p);
}
await be.dispose();
