#!/usr/bin/env node
// Training throughput, one thread against data-parallel threads (`tritwise finetune --threads`),
// side by side: short QAT runs of stories260K (batch 4 × 256 tokens, no validation but the final
// one-chunk check), alternating 1, 2, 1, 2, … thread runs so that load from other jobs hits both
// alike. Reports each run's tokens/s (the trainer's own count: training steps only, after the
// model and text are loaded) and tokens per CPU-second (user + system time of all its threads: the
// work per token, which the load hardly changes), the medians, the tokens/s ratio, and the load
// average around each run.
//
//   node scripts/bench-finetune-threads.mjs [--steps 30] [--rounds 3] [--threads 1,2] [-o bench/results/finetune-threads.json]
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
const shared = join(root, '..', 'shared', 'data');
const { values: a } = parseArgs({
  options: {
    steps: { type: 'string', default: '30' },
    rounds: { type: 'string', default: '3' },
    threads: { type: 'string', default: '1,2' },
    out: { type: 'string', short: 'o', default: join(root, 'bench/results/finetune-threads.json') },
    work: { type: 'string', default: join(root, '.tmp/bench-finetune-threads') },
  },
});
const counts = a.threads.split(',').map(Number);
const load = () => os.loadavg().map((x) => Math.round(x * 100) / 100);
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[s.length >> 1] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
mkdirSync(a.work, { recursive: true });
const runs = [];
for (let r = 0; r < Number(a.rounds); r++) {
  for (const t of counts) {
    const out = join(a.work, `t${t}`);
    rmSync(out, { recursive: true, force: true });
    const before = load();
    const res = JSON.parse(
      execFileSync(process.execPath, [
        join(root, 'bin/tritwise.js'), 'finetune', join(shared, 'stories260K.bin'), '--tokenizer', join(shared, 'tok512.bin'),
        '--text', join(shared, 'tinystories_val_subset.txt'), '--mode', 'qat', '--lr', '3e-3', '--steps', a.steps, '--batch', '4', '--ctx', '256',
        '--eval-every', '0', '--eval-chunks', '1', '--threads', String(t), '--restart', '-o', out, '--json',
      ], { encoding: 'utf8', maxBuffer: 64 << 20 }),
    );
    runs.push({ round: r, threads: t, tokens_per_second: res.tokens_per_second, tokens_per_cpu_second: res.tokens / res.cpu_s, cpu_s: res.cpu_s, train_s: res.elapsed_s, final_loss: res.final_loss, load_before: before, load_after: load() });
    process.stderr.write(`round ${r} threads ${t}: ${res.tokens_per_second.toFixed(0)} tokens/s, ${(res.tokens / res.cpu_s).toFixed(0)} tokens per CPU-second, loss ${res.final_loss.toFixed(4)} (load ${before[0]})\n`);
  }
}
const med = Object.fromEntries(counts.map((t) => [t, median(runs.filter((x) => x.threads === t).map((x) => x.tokens_per_second))]));
const medCpu = Object.fromEntries(counts.map((t) => [t, median(runs.filter((x) => x.threads === t).map((x) => x.tokens_per_cpu_second))]));
const report = {
  what: 'QAT training throughput of stories260K (batch 4 × 256), one thread against data-parallel threads, interleaved runs',
  machine: { cpus: os.cpus().length, cpu: os.cpus()[0]?.model, node: process.version },
  steps: Number(a.steps),
  runs,
  median_tokens_per_second: med,
  // the work per token, independent of how much of the machine a run got: t threads on t idle
  // cores can reach at most t × this rate
  median_tokens_per_cpu_second: medCpu,
  ratio_to_one_thread: Object.fromEntries(counts.map((t) => [t, med[t] / med[counts[0]]])),
};
mkdirSync(dirname(a.out), { recursive: true });
writeFileSync(a.out, JSON.stringify(report, null, 2) + '\n');
process.stdout.write(JSON.stringify({ median_tokens_per_second: med, median_tokens_per_cpu_second: medCpu, ratio: report.ratio_to_one_thread }, null, 2) + '\n');
