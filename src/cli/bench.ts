/**
 * `tritwise bench` — kernel timings on synthetic matrices, side by side, with ratios.
 */
import { InvalidArgumentError, type Command } from 'commander';
import { createBackend, backendNames } from '../backend/registry.js';
import { benchKernels } from '../eval/kernel-bench.js';
import { fixed, printJson, printTable, writeJsonFile } from './output.js';

function parseShape(s: string, prev: [number, number][] = []): [number, number][] {
  const m = /^(\d+)x(\d+)$/.exec(s);
  if (!m) throw new InvalidArgumentError(`expected ROWSxCOLS such as 4096x4096, got "${s}"`);
  return [...prev, [Number(m[1]), Number(m[2])]];
}

function parseList(s: string): number[] {
  const v = s.split(',').map(Number);
  if (!v.every((n) => Number.isInteger(n) && n > 0)) throw new InvalidArgumentError(`expected positive integers such as 1,8,64, got "${s}"`);
  return v;
}

export function positiveInt(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${s}"`);
  return n;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time GEMV/GEMM kernels on synthetic matrices: dense f32 vs ternary×f32, ×int8, ×ternary')
    .option('--backend <name>', `backend (${backendNames().join(', ')})`, 'ref')
    .option('--shape <RxC>', 'matrix shape, repeatable (default 1024x1024)', parseShape)
    .option('--batch <list>', 'batch sizes, comma-separated', parseList, [1, 8])
    .option('--threads <n>', 'worker threads (CPU backends)', positiveInt)
    .option('--min-time <ms>', 'minimum timing per case', positiveInt, 300)
    .option('--json', 'print the report as JSON')
    .option('-o, --out <file>', 'also write the JSON report to a file')
    .action(async (opts: { backend: string; shape?: [number, number][]; batch: number[]; threads?: number; minTime: number; json?: boolean; out?: string }) => {
      const backend = await createBackend(opts.backend, { threads: opts.threads });
      try {
        const report = await benchKernels(backend, {
          shapes: opts.shape ?? [[1024, 1024]],
          batches: opts.batch,
          minTimeMs: opts.minTime,
          onResult: opts.json ? undefined : (r) => process.stderr.write(`  ${r.name} ${r.rows}×${r.cols} b${r.batch}: ${fixed(r.median_ms)} ms\n`),
        });
        if (opts.out) writeJsonFile(opts.out, report);
        if (opts.json) return printJson(report);
        const m = report.machine;
        process.stdout.write(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, backend ${opts.backend}, threads ${report.results[0]?.threads ?? 1}\n`);
        printTable(
          ['kernel', 'shape', 'batch', 'median ms', 'GB/s (weights)', '× vs dense f32'],
          report.results.map((r) => [r.name, `${r.rows}×${r.cols}`, r.batch, fixed(r.median_ms), fixed(r.gbps, 2), fixed(r.speedup_vs_dense, 2)]),
        );
      } finally {
        await backend.dispose();
      }
    });
}
