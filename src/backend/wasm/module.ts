/**
 * module — loading the kernel module and choosing its build at run time.
 *
 * Two builds of src/kernels exist: relaxed.wasm (SIMD128 + relaxed SIMD, e.g.
 * i32x4.relaxed_dot_i8x16_i7x16_add_s) and simd.wasm (SIMD128 only). `auto` takes relaxed.wasm
 * when WebAssembly.validate accepts it (Node ≥ 22, current browsers) and simd.wasm otherwise.
 * No engine flags are ever passed: on Node 20 relaxed SIMD sits behind a flag and gives wrong
 * dot products, and validate() correctly refuses it there.
 */
import { TritwiseError } from '../../errors.js';
import type { Platform } from './platform.js';

export type SimdChoice = 'auto' | 'relaxed' | 'simd128';
export type SimdFeatures = 'relaxed-simd' | 'simd128';

/** The kernel module's exports (pointers are byte offsets into the shared memory). */
export interface KernelExports {
  denseF32(w: number, stride: number, x: number, batch: number, out: number, rows: number, r0: number, r1: number): void;
  ternaryI8(w: number, nblk: number, G: number, mask: number, maskWords: number, x: number, batch: number, sums: number, out: number, rows: number, mode: number, xsc: number, scales: number, gscales: number, r0: number, r1: number): void;
  ternaryF32(w: number, nblk: number, G: number, mask: number, maskWords: number, x: number, batch: number, table: number, scales: number, gscales: number, out: number, rows: number, r0: number, r1: number): void;
  ternaryTernary(w: number, nblk: number, G: number, mask: number, maskWords: number, u: number, batch: number, out: number, rows: number, r0: number, r1: number): void;
  sparseI8(offs: number, idx: number, x: number, cols: number, batch: number, G: number, out: number, rows: number, r0: number, r1: number): void;
  sparseF32(offs: number, idx: number, x: number, cols: number, batch: number, G: number, scales: number, gscales: number, out: number, rows: number, r0: number, r1: number): void;
  sparseI8W(offs: number, idx: number, x: number, cols: number, batch: number, G: number, out: number, rows: number, r0: number, r1: number): void;
  sparseF32W(offs: number, idx: number, x: number, cols: number, batch: number, G: number, scales: number, gscales: number, out: number, rows: number, r0: number, r1: number): void;
  blockSparseI8(rowPtr: number, widx: number, wide: number, plus: number, minus: number, x: number, cols: number, batch: number, gc: number, G: number, out: number, rows: number, r0: number, r1: number): void;
  blockSparseF32(rowPtr: number, widx: number, wide: number, plus: number, minus: number, x: number, cols: number, batch: number, gc: number, G: number, scales: number, gscales: number, out: number, rows: number, r0: number, r1: number): void;
  dequantAcc(acc: number, batch: number, rows: number, G: number, mode: number, xsc: number, scales: number, gscales: number, out: number, r0: number, r1: number): void;
  attentionF32(q: number, keys: number, values: number, n: number, nHeads: number, nKvHeads: number, d: number, out: number, att: number): void;
  rmsnormF32(out: number, x: number, w: number, rows: number, n: number, eps: number): void;
  addF32(x: number, y: number, len: number): void;
  swigluF32(h: number, gu: number, rows: number, n: number): void;
  planesToLut(plus: number, minus: number, dst: number, rows: number, cols: number, wpr: number, gc: number, G: number, nq: number): void;
  lutTables(q: number, n: number, cols: number, gc: number, G: number, nq: number, dst: number): void;
  lutI8(w: number, G: number, nq: number, q: number, cols: number, tabs: number, job: number, batch: number, out: number, rows: number, mode: number, xsc: number, scales: number, gsT: number, acc16: number, sacc: number, p0: number, p1: number): void;
  setThreadIndex(i: number): void;
  lut3Triples(gc: number): number;
  planesToLut3(plus: number, minus: number, dst: number, corr: number, rows: number, cols: number, wpr: number, gc: number, G: number, nt: number): void;
  lut3Tables(q: number, n: number, cols: number, gc: number, G: number, nt: number, dst: number): void;
  lut3TableBytes(n: number, G: number, nt: number): number;
  lut3I8(w: number, G: number, nt: number, corr: number, tab: number, batch: number, out: number, rows: number, mode: number, xsc: number, scales: number, gsT: number, acc: number, sacc: number, p0: number, p1: number): void;
  initF32Table(table: number): void;
  csrPadI32(offs: number, idx: number, perm: number, x: number, stride: number, batch: number, nb: number, out: number, part: number, rows: number, r0: number, r1: number): void;
  widenI8(src: number, dst: number, batch: number, cols: number, stride: number): void;
  actI16(): number;
  stageI8(src: number, dst: number, n: number, cols: number, gc: number, G: number, nblk: number, sums: number): void;
  stagedI8Bytes(n: number, G: number, nblk: number): number;
  quantI8Token(x: number, n: number, cols: number, q: number, s: number): number;
  quantQ8K(x: number, n: number, cols: number, q: number, d: number): number;
  permuteF32(src: number, dst: number, n: number, cols: number, gc: number, G: number, nblk: number): void;
  planesToBlocks(plus: number, minus: number, dst: number, n: number, cols: number, wpr: number, gc: number, G: number, nblk: number): void;
  planesToI8(plus: number, minus: number, dst: number, n: number, cols: number, wpr: number): void;
  planesToCodes(plus: number, minus: number, dst: number, n: number, cols: number, wpr: number, gc: number, G: number, nblk: number): void;
  ternarySigns(w: number, nblk: number, G: number, u: number, unz: number, batch: number, out: number, rows: number, r0: number, r1: number): void;
  blockNnz(u: number, batch: number, G: number, nblk: number, unz: number): void;
  planesToSigns(minus: number, dst: number, n: number, cols: number, wpr: number, gc: number, G: number, nblk: number): void;
  vsaBind(ap: number, am: number, bp: number, bm: number, cp: number, cm: number, words: number): void;
  vsaSimilarity(ap: number, am: number, bp: number, bm: number, words: number, withNnz: number, out: number): number;
  vsaNnz(p: number, m: number, words: number): number;
  vsaPermute(src: number, dst: number, dim: number, k: number): void;
  vsaAccAdd(c: number, ap: number, am: number, bp: number, bm: number, dim: number, w: number): void;
  vsaThreshold(c: number, dim: number, theta: number, tp: number, tm: number, op: number, om: number): void;
  vsaAccDot(c: number, ap: number, am: number, bp: number, bm: number, dim: number): number;
  vsaAccUnbind(c: number, ap: number, am: number, bp: number, bm: number, dim: number, out: number): void;
  vsaDigitPlanes(x: number, dim: number, P: number, op: number, om: number, stride: number, tmp: number): void;
  initSignTable(table: number): void;
  initSignTable8(table: number): void;
  vsaPairDots(z: number, dim: number, kp: number, km: number, vp: number, vm: number, secs: number, n: number, lists: number, L: number, out: number, table: number, table8: number, bipolar: number, q: number): void;
  vsaPairAxpy(z: number, dim: number, kp: number, km: number, vp: number, vm: number, secs: number, n: number, lists: number, L: number, coef: number, table: number, table8: number, bipolar: number, e: number): void;
  multiF32(w: number, nblk: number, G: number, d: number, x: number, batch: number, table: number, scales: number, gscales: number, out: number, rows: number, r0: number, r1: number): void;
  multiI8(w: number, nblk: number, G: number, d: number, x: number, batch: number, bsums: number, out: number, rows: number, r0: number, r1: number): void;
  interleaveCodes(src: number, dst: number, blocks: number, d: number, p: number): void;
  padGroups8(src: number, dst: number, n: number, cols: number, gc: number, G: number, nblk: number): void;
  blockSumsI8(x: number, n: number, G: number, nblk: number, bsums: number): void;
  relaxed(): number;
  trapAt(row: number, r0: number, r1: number): void;
}

export interface LoadedKernels {
  module: WebAssembly.Module;
  features: SimdFeatures;
}

/** Compile the build that this engine supports (or the one asked for). */
export async function loadKernels(platform: Platform, choice: SimdChoice = 'auto'): Promise<LoadedKernels> {
  if (!['auto', 'relaxed', 'simd128'].includes(choice)) {
    throw new TritwiseError('E_ARG', 'unknown SIMD choice', { where: 'wasm backend option simd', expected: 'auto | relaxed | simd128', got: choice });
  }
  if (choice !== 'simd128') {
    const bytes = await platform.readKernel('relaxed.wasm');
    if (WebAssembly.validate(bytes)) return { module: await WebAssembly.compile(bytes), features: 'relaxed-simd' };
    if (choice === 'relaxed') throw new TritwiseError('E_UNSUPPORTED', 'this JavaScript engine has no relaxed SIMD', { where: 'wasm backend', expected: 'WebAssembly.validate(relaxed.wasm) (Node ≥ 22)', got: `false on ${platform.name}` });
  }
  const bytes = await platform.readKernel('simd.wasm');
  if (!WebAssembly.validate(bytes)) throw new TritwiseError('E_UNSUPPORTED', 'this JavaScript engine has no WebAssembly SIMD', { where: 'wasm backend', expected: 'SIMD128', got: 'WebAssembly.validate(simd.wasm) = false' });
  return { module: await WebAssembly.compile(bytes), features: 'simd128' };
}

export async function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): Promise<WebAssembly.Instance> {
  return (await WebAssembly.instantiate(module, { env: { memory } })) as unknown as WebAssembly.Instance;
}
