#!/usr/bin/env node
// Side-by-side A/B of the wasm int8 lookup kernels in one process: the same weights uploaded twice,
// as column pairs (lut-i8.ts) and as column triples with a sign bit (lut3-i8.ts), with dense f32 as
// the baseline, timed in interleaved rounds (medians). With 1 thread it also reports each call's
// process CPU time (process.cpuUsage), which a loaded machine's preemption does not inflate. Usage:
//   node scripts/bench-lut-ab.mjs [rows] [cols] [threads] [rounds] [batch] [out.json]
import { createBackend } from '../dist/backend/registry.js';
import { quantize } from '../dist/quant/weight-quantizers.js';
import { quantizeInt8PerToken } from '../dist/quant/activation-quantizers.js';
import { randomWeights } from '../dist/eval/kernel-bench.js';
import { loadavg, cpus } from 'node:os';
import { writeFileSync } from 'node:fs';

const [rows = 4096, cols = 11008, threads = 2, rounds = 60, batch = 1] = process.argv.slice(2, 7).map(Number);
const outFile = process.argv[7];
const backend = await createBackend('wasm', { threads });
const w = randomWeights(rows * cols, rows * 31 + cols);
const t = quantize(w, rows, cols, 'absmean').tensor;
const pairs = await backend.uploadTernary(t, { lut: 'pairs' });
const triples = await backend.uploadTernary(t, { lut: 'triples' });
const dense = await backend.uploadDense(w, rows, cols);
const x = randomWeights(batch * cols, 8);
const q = quantizeInt8PerToken(x, batch, cols).q;
const yF = new Float32Array(batch * rows);
const yA = new Int32Array(batch * rows), yB = new Int32Array(batch * rows);
const cases = [
  ['dense-f32', () => backend.matmulDense(dense, x, batch, yF)],
  ['i8 pairs (lut)', () => backend.matmulI8(pairs, q, batch, yA)],
  ['i8 triples (lut3)', () => backend.matmulI8(triples, q, batch, yB)],
];
for (const [, f] of cases) await f();
for (let i = 0; i < yA.length; i++) if (yA[i] !== yB[i]) throw new Error(`outputs differ at ${i}: ${yA[i]} vs ${yB[i]}`);
const load0 = loadavg()[0];
const times = cases.map(() => []);
const cpu = cases.map(() => []);
for (let r = 0; r < rounds; r++) {
  // dense every round; the two lookup kernels in alternating order (ABBA), so neither always follows the other
  for (const i of r % 2 ? [0, 1, 2] : [0, 2, 1]) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    await cases[i][1]();
    times[i].push(performance.now() - t0);
    const c = process.cpuUsage(c0);
    cpu[i].push((c.user + c.system) / 1000);
  }
}
const med = (a) => { const s = [...a].sort((u, v) => u - v); return s[s.length >> 1]; };
const m = times.map(med);
console.log(`${rows}x${cols} batch ${batch}, ${threads} threads, ${rounds} rounds, node ${process.version}, ${backend.describe().simd}, load ${load0.toFixed(1)} → ${loadavg()[0].toFixed(1)}`);
for (let i = 0; i < cases.length; i++) console.log(`  ${cases[i][0].padEnd(20)} median ${m[i].toFixed(3)} ms  min ${Math.min(...times[i]).toFixed(3)}  × vs dense ${(m[0] / m[i]).toFixed(2)}`);
console.log(`  triples over pairs: ${(m[1] / m[2]).toFixed(3)}× (median of per-round ratios ${med(times[1].map((a, k) => a / times[2][k])).toFixed(3)})`);
const mc = cpu.map(med);
if (threads === 1) console.log(`  CPU time per call (median): ${cases.map(([n], i) => `${n} ${mc[i].toFixed(3)} ms`).join(', ')}; triples over pairs ${(mc[1] / mc[2]).toFixed(3)}×, dense over triples ${(mc[0] / mc[2]).toFixed(2)}×`);
if (outFile) {
  const ratios = times[1].map((a, k) => a / times[2][k]);
  const report = {
    machine: { cpu: cpus()[0]?.model, cores: cpus().length, node: process.version, simd: backend.describe().simd, threads, load_before: load0, load_after: loadavg()[0] },
    shape: { rows, cols, batch },
    rounds,
    results: cases.map(([name], i) => ({ name, median_ms: m[i], min_ms: Math.min(...times[i]), speedup_vs_dense: m[0] / m[i] })),
    triples_over_pairs: { of_medians: m[1] / m[2], median_of_round_ratios: med(ratios), ...(threads === 1 ? { of_cpu_time_medians: mc[1] / mc[2] } : {}) },
    ...(threads === 1 ? { cpu_ms: cases.map(([name], i) => ({ name, median_cpu_ms: mc[i] })) } : {}),
  };
  writeFileSync(outFile, JSON.stringify(report, null, 2) + '\n');
}
await backend.dispose();
