#!/usr/bin/env node
/**
 * probe-csr-row-cost — where the padded CSR f32 kernel's time goes (issue 7): csrPadF32 alone on
 * the calling thread (nb = 1, x staged at CSR_X, 11008 columns), on synthetic lists of equal
 * lengths (L entries per list, two lists per row, random ascending columns), warm. Varies the rows
 * at fixed entries and the list length at fixed rows, and fits t = a + b·rows + c·entries
 * (least squares over all points). Medians of --calls calls per point, points interleaved.
 *
 *   node scripts/probe-csr-row-cost.mjs [--rounds 9] [--calls 30] [--cols 11008]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { WasmBackend } from '../dist/backend/wasm/wasm-backend.js';
import { CSR_X } from '../dist/backend/wasm/layouts.js';
import { seededRandom } from '../dist/eval/random.js';

const { values: a } = parseArgs({ options: { rounds: { type: 'string', default: '9' }, calls: { type: 'string', default: '30' }, cols: { type: 'string', default: '11008' } } });
const cols = Number(a.cols);
const be = await WasmBackend.create({ threads: 1 });
const H = be.heap, K = be.kernels;
const rng = seededRandom(12345);
const rnd = () => rng.next();
function build(rows, L) {
  const offs = new Uint32Array(2 * rows + 1), idx = new Uint16Array(2 * rows * L);
  for (let i = 0; i < 2 * rows; i++) {
    offs[i] = i * L;
    const c = Array.from({ length: L }, () => Math.floor(rnd() * cols)).sort((p, q) => p - q);
    for (let j = 0; j < L; j++) idx[i * L + j] = c[j] * 4;
  }
  offs[2 * rows] = 2 * rows * L;
  const po = H.alloc(offs.byteLength), pi = H.alloc(idx.byteLength), pp = H.alloc(rows * 4), ps = H.alloc(rows * 4), out = H.alloc(rows * 4);
  H.u32.set(offs, po >>> 2);
  H.u16.set(idx, pi >>> 1);
  for (let r = 0; r < rows; r++) (H.u32[(pp >>> 2) + r] = r), (H.f32[(ps >>> 2) + r] = 1);
  return { rows, L, entries: 2 * rows * L, run: () => K.csrPadF32(po, pi, pp, CSR_X, 0, 1, 1, ps, 0, out, 0, rows, 0, rows) };
}
for (let c = 0; c < cols; c++) H.f32[(CSR_X >>> 2) + c] = Math.sin(c);
H.f32[(CSR_X >>> 2) + cols] = 0;
const pts = [];
for (const [rows, L] of [[1024, 256], [2048, 128], [4096, 64], [8192, 32], [16384, 16], [32768, 8], [4096, 8], [4096, 16], [4096, 32], [4096, 128]]) pts.push(build(rows, L));
const ts = pts.map(() => []);
const l0 = loadavg()[0];
for (let r = 0; r < Number(a.rounds); r++)
  for (let j = 0; j < pts.length; j++) {
    const k = (j + r) % pts.length, p = pts[k];
    for (let i = 0; i < 3; i++) p.run();
    for (let i = 0; i < Number(a.calls); i++) {
      const t0 = performance.now();
      p.run();
      ts[k].push(performance.now() - t0);
    }
  }
const med = ts.map((v) => [...v].sort((p, q) => p - q)[v.length >> 1]);
// least squares t = a + b·rows + c·entries
const X = pts.map((p) => [1, p.rows, p.entries]);
const XtX = [0, 1, 2].map((i) => [0, 1, 2].map((j) => X.reduce((s, x) => s + x[i] * x[j], 0)));
const Xty = [0, 1, 2].map((i) => X.reduce((s, x, n) => s + x[i] * med[n], 0));
function solve(A, b) {
  const M = A.map((r, i) => [...r, b[i]]);
  for (let i = 0; i < 3; i++) {
    for (let j = i + 1; j < 3; j++) {
      const f = M[j][i] / M[i][i];
      for (let k = i; k < 4; k++) M[j][k] -= f * M[i][k];
    }
  }
  const x = [0, 0, 0];
  for (let i = 2; i >= 0; i--) x[i] = (M[i][3] - M[i].slice(i + 1, 3).reduce((s, v, k) => s + v * x[i + 1 + k], 0)) / M[i][i];
  return x;
}
const [c0, cr, ce] = solve(XtX, Xty);
console.log(`csrPadF32 alone, 1 thread, nb 1, ${cols} cols, load ${l0.toFixed(2)}→${loadavg()[0].toFixed(2)}`);
for (let i = 0; i < pts.length; i++) console.log(`  rows ${String(pts[i].rows).padStart(5)} × 2 lists × ${String(pts[i].L).padStart(3)}: ${med[i].toFixed(4)} ms, ${((med[i] * 1e6) / pts[i].entries).toFixed(3)} ns/entry, fit ${(c0 + cr * pts[i].rows + ce * pts[i].entries).toFixed(4)}`);
console.log(`fit: ${(c0 * 1e3).toFixed(1)} µs + ${(cr * 1e6).toFixed(2)} ns/row + ${(ce * 1e6).toFixed(3)} ns/entry`);
await be.dispose();
