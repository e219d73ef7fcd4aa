#!/usr/bin/env node
// Side-by-side A/B of ternary×ternary (matmulTernary) between two builds in one process: a baseline
// dist/ (e.g. a built checkout of main, passed as the first argument) and this checkout's dist/.
// Each round runs, per build, dense f32 (which streams 4·rows·cols bytes and so flushes the cache,
// as between the kernels of `tritwise bench`) then the ternary call that is timed; the builds
// alternate (ABBA). Medians, and the median of per-round ratios. Outputs are checked equal. Usage:
//   node scripts/bench-tt-ab.mjs BASE_DIST [rows] [cols] [threads] [rounds] [batch] [zeros]
import { loadavg } from 'node:os';
import { pathToFileURL } from 'node:url';

const [baseDist, ...rest] = process.argv.slice(2);
if (!baseDist) throw new Error('usage: bench-tt-ab.mjs BASE_DIST [rows] [cols] [threads] [rounds] [batch] [zeros]');
const [rows = 4096, cols = 11008, threads = 2, rounds = 60, batch = 1, zeros = -1] = rest.map(Number);
const here = new URL('../dist/', import.meta.url).href;
const base = pathToFileURL(baseDist.replace(/\/?$/, '/')).href;
async function load(dist) {
  const { createBackend } = await import(`${dist}backend/registry.js`);
  const { quantize } = await import(`${dist}quant/weight-quantizers.js`);
  const { quantizeTernaryPerToken } = await import(`${dist}quant/activation-quantizers.js`);
  const { randomWeights } = await import(`${dist}eval/kernel-bench.js`);
  const backend = await createBackend('wasm', { threads });
  const w = randomWeights(rows * cols, rows * 31 + cols);
  const spec = zeros < 0 ? 'absmean' : zeros === 0 ? 'threshold:0' : `percentile:${zeros * 100}`;
  const t = quantize(w, rows, cols, spec).tensor;
  const tw = await backend.uploadTernary(t);
  const dw = await backend.uploadDense(w, rows, cols);
  const x = randomWeights(batch * cols, 8);
  const u = quantizeTernaryPerToken(x, batch, cols);
  const yF = new Float32Array(batch * rows);
  const y = new Int32Array(batch * rows * tw.groups);
  return { backend, path: backend.ternaryPath?.(tw), dense: () => backend.matmulDense(dw, x, batch, yF), tt: () => backend.matmulTernary(tw, u, y), y };
}
const builds = [await load(base), await load(here)];
for (const b of builds) { await b.dense(); await b.tt(); }
for (let i = 0; i < builds[0].y.length; i++) if (builds[0].y[i] !== builds[1].y[i]) throw new Error(`outputs differ at ${i}: ${builds[0].y[i]} vs ${builds[1].y[i]}`);
const l0 = loadavg()[0];
const tt = [[], []], dn = [[], []];
for (let r = 0; r < rounds; r++) {
  for (const i of r % 2 ? [0, 1] : [1, 0]) {
    let t0 = performance.now();
    await builds[i].dense();
    dn[i].push(performance.now() - t0);
    t0 = performance.now();
    await builds[i].tt();
    tt[i].push(performance.now() - t0);
  }
}
const med = (a) => { const s = [...a].sort((p, q) => p - q); return s[s.length >> 1]; };
console.log(`${rows}x${cols} batch ${batch} zeros ${zeros < 0 ? 'absmean' : zeros}, ${threads} threads, ${rounds} rounds, node ${process.version}, ${builds[1].backend.describe().simd}, path ${builds[1].path}, load ${l0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
for (const [i, n] of [[0, 'base'], [1, 'new ']]) console.log(`  ${n} tt median ${med(tt[i]).toFixed(3)} ms [min ${Math.min(...tt[i]).toFixed(3)}]  dense ${med(dn[i]).toFixed(3)} ms  × vs dense ${(med(dn[i]) / med(tt[i])).toFixed(2)}`);
console.log(`  new over base: ${(med(tt[0]) / med(tt[1])).toFixed(3)}× (median of per-round ratios ${med(tt[0].map((a, k) => a / tt[1][k])).toFixed(3)})`);
for (const b of builds) await b.backend.dispose();
