/**
 * `tritwise bench` — kernel timings on synthetic matrices, side by side, with ratios: every kernel
 * against dense f32 on the same backend and thread count, and (wasm) against llama.cpp's native
 * TQ2_0 matmul on the same shape in the same run; then a zero-skipping sweep. Writes JSON
 * (`-o`) and SVG charts (`--svg`).
 */
import { InvalidArgumentError, type Command } from 'commander';
import { readFileSync } from 'node:fs';
import { createBackend, backendNames } from '../backend/registry.js';
import { TritwiseError } from '../errors.js';
import { installCachedCostModel } from '../sparse/cost-cache.js';
import { benchKernels, benchZeros, type Comparison, type KernelBenchReport, type KernelResult } from '../eval/kernel-bench.js';
import { barChartSvg } from '../eval/svg-chart.js';
import { writeFileAtomic, writeAll } from '../io/atomic-write.js';
import { runBenchModel, runProfileModel, type BenchModelFlags } from './bench-model.js';
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

function parseFractions(s: string): number[] {
  const v = s.split(',').map(Number);
  if (!v.every((n) => Number.isFinite(n) && n >= 0 && n < 1)) throw new InvalidArgumentError(`expected fractions in [0, 1) such as 0,0.5,0.95, got "${s}"`);
  return v;
}

export function positiveInt(s: string): number {
  const n = Number(s);
  if (!Number.isInteger(n) || n <= 0) throw new InvalidArgumentError(`expected a positive integer, got "${s}"`);
  return n;
}

interface BenchOpts extends Omit<BenchModelFlags, 'threads' | 'dense'> {
  model?: boolean;
  profile?: boolean;
  context?: number;
  dense?: boolean;
  backend: string;
  quick?: boolean;
  gpuDecode: boolean;
  tune: boolean;
  shape?: [number, number][];
  batch?: number[];
  threads?: number[];
  zeros?: number[] | false;
  zerosShape?: [number, number][];
  llamacpp: boolean;
  minTime: number;
  json?: boolean;
  out?: string;
  svg?: string;
}

const WASM_DEFAULTS = { shapes: [[4096, 4096], [4096, 11008], [11008, 4096]] as [number, number][], batches: [1, 8, 64], threads: [1, 2], zeros: [0, 0.5, 0.9, 0.95, 0.99] };
const OTHER_DEFAULTS = { shapes: [[1024, 1024]] as [number, number][], batches: [1, 8], threads: [1], zeros: [] as number[] };

async function comparisons(o: BenchOpts, note: (s: string) => void): Promise<{ list: Comparison[]; variant?: string }> {
  if (!o.llamacpp || o.backend !== 'wasm') return { list: [] };
  try {
    const { llamaCppComparison } = await import('../eval/llamacpp-comparison.js');
    const { comparison, variant } = await llamaCppComparison();
    return { list: [comparison], variant };
  } catch (e) {
    if (!(e instanceof TritwiseError)) throw e;
    note(`llama.cpp comparison unavailable: ${e.message}`);
    return { list: [] };
  }
}

/** The CPU's SIMD extensions that matter for these kernels (Linux /proc/cpuinfo; [] elsewhere). */
function cpuSimdFlags(): string[] {
  try {
    const flags = new Set(/^flags\s*:(.*)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim().split(/\s+/) ?? []);
    return ['sse4_2', 'avx', 'avx2', 'fma', 'avx_vnni', 'avx512f', 'avx512bw', 'avx512_vnni', 'avx512_bitalg'].filter((f) => flags.has(f));
  } catch {
    return [];
  }
}

export function writeCharts(path: string, report: KernelBenchReport): void {
  const m = report.machine;
  const sub = `${m.cpu}, ${m.cores} cores, Node ${m.node}, ${String(m.simd ?? '')}`;
  const main = report.results.filter((r) => r.zeros === undefined && !r.name.startsWith('dense'));
  const groups = new Map<string, { series: string; value: number }[]>();
  for (const r of main) {
    const key = `${r.rows}×${r.cols} b${r.batch} t${r.threads}`;
    if (!groups.has(key)) groups.set(key, []);
    groups.get(key)!.push({ series: r.name, value: r.speedup_vs_dense });
  }
  const svg = barChartSvg({ title: 'tritwise kernels: speedup over dense f32 (same backend, shape, batch, threads)', subtitle: sub, unit: '× faster than dense-f32 (higher is better; dashed line = 1×)', groups: [...groups].map(([label, bars]) => ({ label, bars })), reference: 1 });
  const write = (p: string, s: string) => writeFileAtomic(p, (fd) => writeAll(fd, new TextEncoder().encode(s)));
  write(path, svg);
  const zeros = report.results.filter((r) => r.zeros !== undefined);
  if (zeros.length) {
    const zg = new Map<string, { series: string; value: number }[]>();
    for (const r of zeros) {
      const key = `${Math.round(r.zeros! * 100)}% zeros t${r.threads}`;
      if (!zg.has(key)) zg.set(key, []);
      zg.get(key)!.push({ series: r.name, value: r.speedup_vs_zeros0! });
    }
    const zs = barChartSvg({ title: `zero skipping: speedup over the same kernel at 0 % zeros (${zeros[0]!.rows}×${zeros[0]!.cols}, batch 1)`, subtitle: sub, unit: '× faster than at 0 % zeros', groups: [...zg].map(([label, bars]) => ({ label, bars })), reference: 1 });
    write(path.replace(/(\.svg)?$/, '.zeros.svg'), zs);
  }
}

/** The WebGPU benchmark (eval/gpu-bench.ts): GEMV vs the roofline and dense f32/f16, decode tokens/s. */
async function benchWebgpu(o: BenchOpts): Promise<void> {
  const { WebGpuBackend } = await import('../backend/webgpu/webgpu-backend.js');
  const { benchGpu } = await import('../eval/gpu-bench.js');
  const be = await WebGpuBackend.create({ powerPreference: 'high-performance' });
  try {
    const t0 = performance.now();
    const note = (s: string) => process.stderr.write(`  [${((performance.now() - t0) / 1000).toFixed(1)} s] ${s}\n`);
    const report = await benchGpu(be, { quick: o.quick, shapes: o.shape, batches: o.batch, minTimeMs: o.minTime === 300 ? undefined : o.minTime, decode: o.gpuDecode ? undefined : false, tune: o.tune === false ? false : undefined, zeroBlocks: o.zerosShape?.[0], onStep: note });
    if (o.out) writeJsonFile(o.out, report);
    if (o.json) return printJson(report);
    const m = report.machine;
    if (report.tuning) printTable(['tuning (4096×11008 b1)', 'threads/workgroup', 'median ms'], report.tuning.results.map((r) => [r.kernel, r.wg, fixed(r.median_ms, 4)]));
    process.stdout.write(`adapter: ${String(m.adapter)} (${String(m.driver)}, ${String(m.runtime)}); roofline ${fixed(report.memory.roofline_gbps, 1)} GB/s (${report.memory.roofline_source}); measured copy ${fixed(report.memory.measured_copy_gbps, 1)} GB/s\n`);
    printTable(
      ['kernel', 'shape', 'batch', 'median ms', 'GB/s (weights)', '% of roofline', '× vs dense f32', '× vs dense f16'],
      report.gemv.map((r) => [r.name, `${r.rows}×${r.cols}`, r.batch, fixed(r.median_ms), fixed(r.gbps, 1), fixed(100 * r.roofline_fraction, 1), fixed(r.speedup_vs_dense_f32, 2), r.speedup_vs_dense_f16 === undefined ? '' : fixed(r.speedup_vs_dense_f16, 2)]),
    );
    if (report.zero_blocks.length) printTable(['kernel (zero-chunk skipping)', 'shape', 'zero blocks', 'median ms', '× vs no zero blocks'], report.zero_blocks.map((z) => [z.name, `${z.rows}×${z.cols}`, `${fixed(100 * z.zero_blocks, 1)} %`, fixed(z.median_ms), fixed(z.speedup_vs_no_zero_blocks, 2)]));
    printTable(['decode', 'activations', 'tokens', 'tokens/s', 'ms/token'], report.decode.map((d) => [d.shape, d.activation, d.tokens, fixed(d.tokens_per_second, 2), fixed(d.ms_per_token, 2)]));
    if (report.attention.length) printTable(['attention (one decode step)', 'positions', 'heads × dim', 'median ms', 'K/V GB/s', '× vs exact'], report.attention.map((a) => [a.mode, a.positions, `${a.nHeads} × ${a.headDim}`, fixed(a.median_ms), fixed(a.kv_gbps, 1), fixed(a.speedup_vs_exact, 2)]));
    if (report.multi_trit.length) printTable(['multi-trit gemv', 'shape', 'depth', 'median ms', 'GB/s (weights)', 'per plane vs depth 1'], report.multi_trit.map((r) => [r.name, `${r.rows}×${r.cols}`, r.depth, fixed(r.median_ms), fixed(r.gbps, 1), fixed(r.per_plane_vs_depth1, 2)]));
    for (const [k, t] of Object.entries(report.targets)) process.stdout.write(`target ${k}: ${t.value === null ? 'n/a' : fixed(t.value, 3)} (target ${t.target}) ${t.met === null ? '' : t.met ? 'met' : 'not met'}${t.note ? ` — ${t.note}` : ''}\n`);
  } finally {
    await be.dispose();
  }
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('time GEMV/GEMM kernels on synthetic matrices: dense f32 vs ternary×f32, ×int8, ×ternary (and llama.cpp TQ2_0)')
    .option('--backend <name>', `backend (${backendNames().join(', ')})`, 'wasm')
    .option('--shape <RxC>', 'matrix shape, repeatable (wasm default: 4096x4096, 4096x11008, 11008x4096)', parseShape)
    .option('--batch <list>', 'batch sizes, comma-separated (wasm default 1,8,64)', parseList)
    .option('--threads <list>', 'thread counts, comma-separated (wasm default 1,2)', parseList)
    .option('--zeros <list>', 'zero-skipping sweep: fractions of zero trits (wasm default 0,0.5,0.9,0.95,0.99)', parseFractions)
    .option('--no-zeros', 'skip the zero-skipping sweep')
    .option('--zeros-shape <RxC>', 'shape for the zero-skipping sweep (default 4096x4096)', parseShape)
    .option('--no-llamacpp', "skip llama.cpp's TQ2_0 comparison")
    .option('--min-time <ms>', 'minimum timing per case', positiveInt, 300)
    .option('--json', 'print the report as JSON')
    .option('-o, --out <file>', 'also write the JSON report to a file')
    .option('--svg <file>', 'also write SVG charts (FILE and FILE.zeros.svg)')
    .option('--quick', 'webgpu: small shapes and a few decode tokens (under a minute on a software driver)')
    .option('--no-gpu-decode', 'webgpu: skip the 0.7B decode benchmark')
    .option('--no-tune', "webgpu: keep the matmul kernels' default workgroup size (64) instead of measuring 32–256 first")
    .option('--model', 'end to end instead: prompt and decode tokens/s of a BitNet-0.7B-shaped random ternary model, with llama.cpp (TQ2_0 GGUF) and dense f32 side by side')
    .option('--layers <n>', 'model: layers (default 24)', positiveInt)
    .option('--dim <n>', 'model: width (default 1536)', positiveInt)
    .option('--ffn <n>', 'model: feed-forward width (default 4096)', positiveInt)
    .option('--heads <n>', 'model: attention heads (default 16)', positiveInt)
    .option('--vocab <n>', 'model: vocabulary (default 32000)', positiveInt)
    .option('--prompt <n>', 'model: prompt tokens (default 512)', positiveInt)
    .option('--decode <n>', 'model: generated tokens (default 64)', positiveInt)
    .option('--rounds <n>', 'model: interleaved rounds, medians reported (default 3)', positiveInt)
    .option('--no-dense', 'model: skip the dense f32 baseline')
    .option('--dense-prompt <n>', 'model: prompt tokens of the dense f32 baseline (default 64; f32 GEMM is slow)', positiveInt)
    .option('--activation <mode>', "model: tritwise's activation mode (default q8k, llama.cpp's)")
    .option('--seed <n>', 'model: seed of the random weights (default 1)', positiveInt)
    .option('--profile', 'model: split one decode step into its parts (linear layers, head, attention, JS, per-call and pool costs); --decode steps (default 32), first --threads value (default 2)')
    .option('--context <n>', 'model --profile: prompt tokens in the cache before the timed steps (default 0)', positiveInt)
    .action(async (o: BenchOpts) => {
      if (o.model && o.profile) return runProfileModel({ ...o, dense: false });
      if (o.model) return runBenchModel({ ...o, dense: o.dense !== false });
      if (o.backend === 'webgpu') return benchWebgpu(o);
      const d = o.backend === 'wasm' ? WASM_DEFAULTS : OTHER_DEFAULTS;
      const note = (s: string) => process.stderr.write(`  ${s}\n`);
      const progress = o.json ? undefined : (r: KernelResult) => note(`${r.name} ${r.rows}×${r.cols} b${r.batch} t${r.threads}${r.zeros !== undefined ? ` z${r.zeros}` : ''}: ${fixed(r.median_ms)} ms`);
      const cmp = await comparisons(o, o.json ? () => {} : note);
      const results: KernelResult[] = [];
      let machine: KernelBenchReport['machine'] | undefined;
      const zeros = o.zeros === false ? [] : (o.zeros ?? d.zeros);
      for (const threads of o.threads ?? d.threads) {
        const backend = await createBackend(o.backend, { threads });
        // the layer layouts (zero sweep) come from this setup's calibrated cost model, as in run/eval
        const cost = o.backend === 'wasm' ? installCachedCostModel(threads, String(backend.describe().simd)) : undefined;
        try {
          const rep = await benchKernels(backend, { shapes: o.shape ?? d.shapes, batches: o.batch ?? d.batches, minTimeMs: o.minTime, comparisons: cmp.list, onResult: progress });
          results.push(...rep.results);
          if (zeros.length) {
            const [[zr, zc]] = o.zerosShape ?? [[4096, 4096]];
            results.push(...(await benchZeros(backend, zr!, zc!, zeros, { minTimeMs: o.minTime, onResult: progress })));
          }
          machine ??= { ...rep.machine, cpu_flags: cpuSimdFlags(), threads: o.threads ?? d.threads, ...(cmp.variant ? { llamacpp: `node-llama-cpp 3.21.1, ${cmp.variant}` } : {}), ...(cost ? { cost_model: cost } : {}) };
        } finally {
          await backend.dispose();
        }
      }
      const report: KernelBenchReport = { machine: machine!, results };
      if (o.out) writeJsonFile(o.out, report);
      if (o.svg) writeCharts(o.svg, report);
      if (o.json) return printJson(report);
      const m = report.machine;
      process.stdout.write(`machine: ${m.cpu}, ${m.cores} cores, node ${m.node}, backend ${o.backend} (${String(m.simd ?? 'no SIMD')}), threads ${(o.threads ?? d.threads).join(', ')}${m.llamacpp ? `, llama.cpp: ${String(m.llamacpp)}` : ''}\n`);
      const main = results.filter((r) => r.zeros === undefined);
      printTable(
        ['kernel', 'shape', 'batch', 'threads', 'median ms', 'GB/s (weights)', '× vs dense f32', '× vs llama.cpp'],
        main.map((r) => [r.name, `${r.rows}×${r.cols}`, r.batch, r.threads, fixed(r.median_ms), fixed(r.gbps, 2), fixed(r.speedup_vs_dense, 2), r.speedup_vs_llamacpp === undefined ? '' : fixed(r.speedup_vs_llamacpp, 2)]),
      );
      const zr = results.filter((r) => r.zeros !== undefined);
      if (zr.length) printTable(['kernel (zero skipping)', 'shape', 'zeros', 'threads', 'median ms', '× vs 0 % zeros'], zr.map((r) => [r.name, `${r.rows}×${r.cols}`, `${fixed(r.zeros! * 100, 1)} %`, r.threads, fixed(r.median_ms), fixed(r.speedup_vs_zeros0!, 2)]));
    });
}
