/**
 * vsa/engine/wasm-kernels — the VsaKernels contract on the WebAssembly kernels
 * (src/kernels/vsa-*.ts), on the calling thread, over a WasmBackend's shared memory.
 *
 * Zero copy where possible: an argument whose buffer is the wasm memory (a hypervector or an
 * accumulator made by the wasm VsaEngine) is passed as its byte offset. Any other typed array is
 * staged: copied into a reusable scratch slot before the call (inputs) and copied back after it
 * (outputs), so every TritVector and TernaryTensor row works, just with a copy per call.
 * Nothing is allocated per call once the slots have grown to size.
 */
import type { Heap } from '../../backend/wasm/heap.js';
import { Scratch } from '../../backend/wasm/heap.js';
import type { KernelExports } from '../../backend/wasm/module.js';
import { wordsFor } from '../../tensor/bits.js';
import type { TernaryTensor } from '../../tensor/ternary-tensor.js';
import type { AmpSession, Planes, VsaKernels } from './kernels.js';

type Arr = Uint32Array | Int32Array | Float32Array | Float64Array;

const SLOTS = 8;

/**
 * Views that the wasm engine allocates carry their byte offset and heap under these symbols, so
 * recognising them costs one property load (reading `.buffer` of a SharedArrayBuffer view and
 * comparing it is several times slower). Other views of the wasm memory are still found (by
 * their buffer) and passed without a copy.
 */
const PTR = Symbol('tritwise.wasmPtr');
const HEAP = Symbol('tritwise.wasmHeap');
interface Tagged {
  [PTR]?: number;
  [HEAP]?: Heap;
}

/** Mark a view of `heap` at byte offset `ptr` (done by the engine's allocator). */
export function tagView<T extends Arr>(view: T, heap: Heap, ptr: number): T {
  (view as Tagged)[PTR] = ptr;
  (view as Tagged)[HEAP] = heap;
  return view;
}

export class WasmVsaKernels implements VsaKernels {
  readonly name = 'wasm';
  readonly #heap: Heap;
  readonly #k: KernelExports;
  readonly #slots: Scratch[];
  /** i32 [dot, nnz a, nnz b] of vsaSimilarity, and 256 bytes of digit-plane scratch */
  readonly #res: number;
  readonly #tmp: number;
  /** 256 × f32x4 multipliers {−1, 0, 1} for the AMP loops, and 256 × 8 f32 of ±1 */
  readonly table: number;
  readonly table8: number;

  constructor(heap: Heap, k: KernelExports) {
    this.#heap = heap;
    this.#k = k;
    this.#slots = Array.from({ length: SLOTS }, (_, i) => new Scratch(heap, `vsa staging ${i}`));
    this.#res = heap.alloc(64, 'vsa result');
    this.#tmp = heap.alloc(256, 'vsa digit scratch');
    this.table = heap.alloc(4096, 'vsa sign table');
    k.initSignTable(this.table);
    this.table8 = heap.alloc(8192, 'vsa bipolar table');
    k.initSignTable8(this.table8);
  }

  get heap(): Heap {
    return this.#heap;
  }
  get exports(): KernelExports {
    return this.#k;
  }

  /** Byte offset of arr[off] in the wasm memory, staging n elements into `slot` when arr lives elsewhere. */
  #in(arr: Arr, off: number, n: number, slot: number): number {
    const t = (arr as Tagged)[PTR];
    if (t !== undefined && (arr as Tagged)[HEAP] === this.#heap) return t + off * arr.BYTES_PER_ELEMENT;
    if (this.#heap.owns(arr.buffer)) return arr.byteOffset + off * arr.BYTES_PER_ELEMENT;
    const p = this.#slots[slot]!.ensure(n * arr.BYTES_PER_ELEMENT);
    this.#view(arr).set(arr.subarray(off, off + n) as never, p / arr.BYTES_PER_ELEMENT);
    return p;
  }

  /** Byte offset for an output of n elements at arr[off] (no copy in). */
  #outPtr(arr: Arr, off: number, n: number, slot: number): number {
    const t = (arr as Tagged)[PTR];
    if (t !== undefined && (arr as Tagged)[HEAP] === this.#heap) return t + off * arr.BYTES_PER_ELEMENT;
    if (this.#heap.owns(arr.buffer)) return arr.byteOffset + off * arr.BYTES_PER_ELEMENT;
    return this.#slots[slot]!.ensure(n * arr.BYTES_PER_ELEMENT);
  }

  /** Copy a staged output back (nothing to do when arr is in the wasm memory). */
  #back(arr: Arr, off: number, n: number, p: number): void {
    if ((arr as Tagged)[HEAP] === this.#heap || this.#heap.owns(arr.buffer)) return;
    const i = p / arr.BYTES_PER_ELEMENT;
    arr.set(this.#view(arr).subarray(i, i + n) as never, off);
  }

  #view(arr: Arr): Arr {
    const h = this.#heap;
    return arr instanceof Uint32Array ? h.u32 : arr instanceof Int32Array ? h.i32 : arr instanceof Float32Array ? h.f32 : h.f64;
  }

  bind(ap: Planes, am: Planes, aOff: number, bp: Planes, bm: Planes, bOff: number, op: Planes, om: Planes, oOff: number, words: number): void {
    const a1 = this.#in(ap, aOff, words, 0), a0 = this.#in(am, aOff, words, 1);
    const b1 = this.#in(bp, bOff, words, 2), b0 = this.#in(bm, bOff, words, 3);
    const o1 = this.#outPtr(op, oOff, words, 4), o0 = this.#outPtr(om, oOff, words, 5);
    this.#k.vsaBind(a1, a0, b1, b0, o1, o0, words);
    this.#back(op, oOff, words, o1);
    this.#back(om, oOff, words, o0);
  }

  similarity(ap: Planes, am: Planes, aOff: number, bp: Planes, bm: Planes, bOff: number, words: number, withNnz: boolean, res: Int32Array): number {
    const a1 = this.#in(ap, aOff, words, 0), a0 = this.#in(am, aOff, words, 1);
    const b1 = this.#in(bp, bOff, words, 2), b0 = this.#in(bm, bOff, words, 3);
    const d = this.#k.vsaSimilarity(a1, a0, b1, b0, words, withNnz ? 1 : 0, this.#res);
    const i = this.#res >>> 2, h = this.#heap.i32;
    res[0] = d;
    res[1] = withNnz ? h[i + 1]! : 0;
    res[2] = withNnz ? h[i + 2]! : 0;
    return d;
  }

  nnz(p: Planes, m: Planes, off: number, words: number): number {
    return this.#k.vsaNnz(this.#in(p, off, words, 0), this.#in(m, off, words, 1), words);
  }

  permute(src: Planes, sOff: number, dst: Planes, dOff: number, dim: number, k: number): void {
    const words = wordsFor(dim);
    const s = this.#in(src, sOff, words, 0), d = this.#outPtr(dst, dOff, words, 1);
    this.#k.vsaPermute(s, d, dim, k);
    this.#back(dst, dOff, words, d);
  }

  /** Pointers of (a, b) operands: b = 0 when bp is null. */
  #pair(ap: Planes, am: Planes, aOff: number, bp: Planes | null, bm: Planes | null, bOff: number, words: number): [number, number, number, number] {
    const a1 = this.#in(ap, aOff, words, 0), a0 = this.#in(am, aOff, words, 1);
    if (!bp) return [a1, a0, 0, 0];
    return [a1, a0, this.#in(bp, bOff, words, 2), this.#in(bm!, bOff, words, 3)];
  }

  accAdd(c: Int32Array, ap: Planes, am: Planes, aOff: number, bp: Planes | null, bm: Planes | null, bOff: number, w: number): void {
    const D = c.length, words = wordsFor(D);
    const [a1, a0, b1, b0] = this.#pair(ap, am, aOff, bp, bm, bOff, words);
    const cp = this.#in(c, 0, D, 4);
    this.#k.vsaAccAdd(cp, a1, a0, b1, b0, D, w);
    this.#back(c, 0, D, cp);
  }

  threshold(c: Int32Array, theta: number, tp: Planes | null, tm: Planes | null, op: Planes, om: Planes): void {
    const D = c.length, words = wordsFor(D);
    const cp = this.#in(c, 0, D, 4);
    const t1 = tp ? this.#in(tp, 0, words, 0) : 0, t0 = tm ? this.#in(tm, 0, words, 1) : 0;
    const o1 = this.#outPtr(op, 0, words, 2), o0 = this.#outPtr(om, 0, words, 3);
    // c > θ ⇔ c > ⌊θ⌋ for integer c; |c| < 2³¹ (the accumulator's bound)
    this.#k.vsaThreshold(cp, D, Math.min(Math.floor(theta), 0x7fffffff), t1, t0, o1, o0);
    this.#back(op, 0, words, o1);
    this.#back(om, 0, words, o0);
  }

  accDot(c: Int32Array, ap: Planes, am: Planes, aOff: number, bp: Planes | null, bm: Planes | null, bOff: number): number {
    const D = c.length, words = wordsFor(D);
    const [a1, a0, b1, b0] = this.#pair(ap, am, aOff, bp, bm, bOff, words);
    return this.#k.vsaAccDot(this.#in(c, 0, D, 4), a1, a0, b1, b0, D);
  }

  accUnbind(c: Int32Array, ap: Planes, am: Planes, aOff: number, bp: Planes | null, bm: Planes | null, bOff: number, out: Int32Array): void {
    const D = c.length, words = wordsFor(D);
    const [a1, a0, b1, b0] = this.#pair(ap, am, aOff, bp, bm, bOff, words);
    const cp = this.#in(c, 0, D, 4), o = this.#outPtr(out, 0, D, 5);
    this.#k.vsaAccUnbind(cp, a1, a0, b1, b0, D, o);
    this.#back(out, 0, D, o);
  }

  digitPlanes(x: Int32Array, P: number, op: Planes, om: Planes, oOff: number, stride: number): void {
    const D = x.length, n = (P - 1) * stride + wordsFor(D);
    const xp = this.#in(x, 0, D, 0);
    const o1 = this.#outPtr(op, oOff, n, 1), o0 = this.#outPtr(om, oOff, n, 2);
    this.#k.vsaDigitPlanes(xp, D, P, o1, o0, stride, this.#tmp);
    // the kernel writes every word of each plane; words between planes (stride > W) are not touched
    const W = wordsFor(D);
    for (let j = 0; j < P; j++) {
      this.#back(op, oOff + j * stride, W, o1 + j * stride * 4);
      this.#back(om, oOff + j * stride, W, o0 + j * stride * 4);
    }
  }

  ampSession(K: TernaryTensor, V: TernaryTensor): AmpSession {
    return new WasmAmpSession(this, K, V);
  }

  /** Stage an Int32/Float64 array into `slot` (always a copy: these are small per-call lists). */
  stage(arr: Int32Array | Float64Array, slot: number): number {
    return this.#in(arr, 0, arr.length, slot);
  }
  outPtr(arr: Float64Array, slot: number): number {
    return this.#outPtr(arr, 0, arr.length, slot);
  }
  back(arr: Float64Array, p: number): void {
    this.#back(arr, 0, arr.length, p);
  }
}

/**
 * The AMP loops in wasm: keys and values are copied into the wasm memory once per session, the
 * residual lives there as f32 (z and zn, D floats each, zero-padded to whole words: the kernels
 * read 32 at a time and the padding must stay 0), with one more padded vector of scratch. When
 * every value row is dense bipolar the kernels read only their + planes (8 dims per lookup).
 */
class WasmAmpSession implements AmpSession {
  z: Float32Array;
  zn: Float32Array;
  #zp: number;
  #znp: number;
  readonly #kx: WasmVsaKernels;
  readonly #D: number;
  readonly #blocks: number[] = [];
  readonly #K: [number, number];
  readonly #V: [number, number];
  readonly #scratch: number;
  readonly #bipolar: number;

  constructor(kx: WasmVsaKernels, K: TernaryTensor, V: TernaryTensor) {
    this.#kx = kx;
    this.#D = K.cols;
    const heap = kx.heap;
    const put = (a: Uint32Array) => {
      const p = heap.alloc(a.length * 4, 'amp planes');
      heap.u32.set(a, p >>> 2);
      this.#blocks.push(p);
      return p;
    };
    this.#K = [put(K.plus), put(K.minus)];
    this.#V = [put(V.plus), put(V.minus)];
    const padded = wordsFor(this.#D) * 32;
    this.#zp = heap.alloc(padded * 4, 'amp residual');
    this.#znp = heap.alloc(padded * 4, 'amp residual');
    this.#scratch = heap.alloc(padded * 4, 'amp scratch');
    this.#blocks.push(this.#zp, this.#znp, this.#scratch);
    let dense = true;
    for (let m = 0; m < V.rows && dense; m++) dense = V.rowNnz(m) === this.#D;
    this.#bipolar = dense ? 1 : 0;
    heap.f32.fill(0, this.#zp >>> 2, (this.#zp >>> 2) + padded);
    heap.f32.fill(0, this.#znp >>> 2, (this.#znp >>> 2) + padded);
    this.z = tagView(new Float32Array(heap.f32.buffer, this.#zp, this.#D), heap, this.#zp);
    this.zn = tagView(new Float32Array(heap.f32.buffer, this.#znp, this.#D), heap, this.#znp);
  }

  dots(secs: Int32Array, lists: Int32Array, L: number, out: Float64Array): void {
    const kx = this.#kx, n = secs.length;
    const s = kx.stage(secs, 0), l = kx.stage(lists, 1), o = kx.outPtr(out, 2);
    kx.exports.vsaPairDots(this.#zp, this.#D, this.#K[0], this.#K[1], this.#V[0], this.#V[1], s, n, l, L, o, kx.table, kx.table8, this.#bipolar, this.#scratch);
    kx.back(out, o);
  }

  axpy(secs: Int32Array, lists: Int32Array, L: number, coef: Float64Array): void {
    const kx = this.#kx, n = secs.length;
    const s = kx.stage(secs, 0), l = kx.stage(lists, 1), c = kx.stage(coef, 2);
    kx.exports.vsaPairAxpy(this.#znp, this.#D, this.#K[0], this.#K[1], this.#V[0], this.#V[1], s, n, l, L, c, kx.table, kx.table8, this.#bipolar, this.#scratch);
  }

  swap(): void {
    [this.z, this.zn] = [this.zn, this.z];
    [this.#zp, this.#znp] = [this.#znp, this.#zp];
  }

  release(): void {
    for (const p of this.#blocks.splice(0)) this.#kx.heap.free(p);
  }
}
