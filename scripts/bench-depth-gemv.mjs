#!/usr/bin/env node
/**
 * bench-depth-gemv — d-plane GEMV time against d on a backend (issue 6's target: the d-plane
 * time ≤ d × 1.1 × the single-plane time). Random trit planes (1/3 zeros), one row scale per
 * plane; for d = 1..6, batch 1, f32 and int8 activations, the calls are interleaved round by
 * round (so load from other processes falls on every d alike) and the medians are reported,
 * with the ratio t_d / (d · t_1) against the multi-trit kernel at d = 1 and against the
 * single-plane kernel (uploadTernary + matmulF32 / matmulI8); and whole int8 layers
 * (MultiTritLinear: quantize, matmul, dequantize) on the multi kernel and plane by plane. Times are CPU time of the process
 * on one thread (no worker pool), so other jobs on the machine do not inflate them.
 *
 *   node scripts/bench-depth-gemv.mjs [--backend wasm] [--threads 1] [--shape 2048x2048] [--rounds 40]
 */
import { loadavg, cpus } from 'node:os';
import { parseArgs } from 'node:util';
import { createBackend } from '../dist/backend/registry.js';
import { MultiTritTensor } from '../dist/tensor/multi-trit-tensor.js';
import { randomTernaryTensor } from '../dist/nn/random-model.js';
import { MultiTritLinear } from '../dist/nn/multi-trit-linear.js';

const { values: a } = parseArgs({ options: { backend: { type: 'string', default: 'wasm' }, threads: { type: 'string', default: '1' }, shape: { type: 'string', default: '2048x2048' }, rounds: { type: 'string', default: '40' }, depths: { type: 'string', default: '1,2,3,4,5,6' } } });
const [rows, cols] = a.shape.split('x').map(Number);
const depths = a.depths.split(',').map(Number);
// one thread: kernels run on the calling thread (no pool hand-off, whose wake-up latency on a loaded machine would swamp a GEMV)
const be = await createBackend(a.backend, { threads: Number(a.threads), ...(Number(a.threads) === 1 ? { parallelMinWork: Number.MAX_SAFE_INTEGER } : {}) });
const planes = Array.from({ length: Math.max(...depths) }, (_, p) => randomTernaryTensor(rows, cols, 100 + p, { groupSize: 0 }));
const x = Float32Array.from({ length: cols }, (_, i) => Math.sin(i * 0.37));
const q = Int8Array.from({ length: cols }, (_, i) => ((i * 37) % 255) - 127);
const single = await be.uploadTernary(planes[0]);
const multi = new Map();
const layers = new Map();
for (const d of depths) {
  const m = new MultiTritTensor(planes.slice(0, d));
  multi.set(d, await be.uploadMultiTrit(m));
  // whole int8 layers (quantize x, matmul, dequantize): the shared-load multi kernel against d
  // fused single-plane calls (backend.linear: table lookup on wasm), which MultiTritLinear uses there
  layers.set(d, { planes: await MultiTritLinear.fromTensor(be, m, { activation: 'int8', path: 'planes' }), multi: await MultiTritLinear.fromTensor(be, m, { activation: 'int8', path: 'multi' }) });
}
const times = new Map();
// CPU time of this process (kernels run on this thread), not wall time: on a machine shared
// with other jobs a wall-clock sample is often cut by the scheduler for several ms
const time = async (key, f) => {
  const c = process.cpuUsage();
  for (let i = 0; i < 5; i++) await f();
  const u = process.cpuUsage(c);
  (times.get(key) ?? times.set(key, []).get(key)).push((u.user + u.system) / 1e3 / 5);
};
const load0 = loadavg()[0];
for (let r = 0; r < Number(a.rounds); r++) {
  await time('single f32', () => be.matmulF32(single, x, 1));
  await time('single i8', () => be.matmulI8(single, q, 1));
  for (const d of depths) {
    await time(`f32 ${d}`, () => be.matmulMultiF32(multi.get(d), x, 1));
    await time(`i8 ${d}`, () => be.matmulMultiI8(multi.get(d), q, 1));
    await time(`layer multi ${d}`, () => layers.get(d).multi.forward(x, 1));
    await time(`layer planes ${d}`, () => layers.get(d).planes.forward(x, 1));
  }
}
const med = (k) => {
  const v = [...times.get(k)].sort((p, s) => p - s);
  return v[v.length >> 1];
};
const out = { machine: `${cpus()[0]?.model} × ${cpus().length}`, backend: a.backend, threads: Number(a.threads), shape: [rows, cols], rounds: Number(a.rounds), loadavg: [load0, loadavg()[0]], single_us: { f32: med('single f32') * 1e3, i8: med('single i8') * 1e3 }, rows: [] };
for (const d of depths) {
  for (const m of ['f32', 'i8']) {
    const t = med(`${m} ${d}`);
    out.rows.push({ depth: d, activation: m, us: +(t * 1e3).toFixed(1), per_plane_vs_multi1: +(t / (d * med(`${m} 1`))).toFixed(3), per_plane_vs_single: +(t / (d * med(`single ${m}`))).toFixed(3) });
  }
  const lm = med(`layer multi ${d}`), lp = med(`layer planes ${d}`);
  out.rows.push({ depth: d, activation: 'int8 layer', multi_us: +(lm * 1e3).toFixed(1), planes_us: +(lp * 1e3).toFixed(1), multi_per_plane_vs_planes1: +(lm / (d * med('layer planes 1'))).toFixed(3), planes_per_plane_vs_planes1: +(lp / (d * med('layer planes 1'))).toFixed(3) });
}
console.log(JSON.stringify(out, null, 1));
await be.dispose();
