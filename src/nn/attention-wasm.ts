/**
 * attention-wasm — the WASM SIMD attention kernels (kernels/attention-flash.ts,
 * kernels/attention-ternary.ts) as AttentionFns on the wasm backend's shared memory; single
 * thread, on the calling thread.
 *
 * Arrays already in the backend's memory (its allocF32 buffers: the model's activations and KV
 * caches) are read in place; others are staged into scratch first. Ternary/top-k modes keep a
 * `WasmTritKeys` table per keys array — the keys' trits, head-major, in backend memory — which
 * quantizes only positions it has not seen (a call at a position not after the previous one
 * starts it afresh, as in attention-ternary.ts); it is freed when its keys array is collected.
 */
import type { AttentionShape, Backend } from '../backend/backend.js';
import type { Heap } from '../backend/wasm/heap.js';
import { TritwiseError } from '../errors.js';
import type { AttentionFn } from './attention.js';
import type { AttentionMode } from './attention-modes.js';
import { windowStart } from './attention-reference.js';
import { tritWords } from './attention-trits.js';

/** The attention kernels' exports (pointers are byte offsets into the shared memory). */
export interface AttentionKernels {
  flashF32(q: number, keys: number, values: number, n: number, nHeads: number, nKvHeads: number, d: number, out: number, scratch: number): void;
  scoresF32(q: number, keys: number, n: number, nHeads: number, nKvHeads: number, d: number, out: number): void;
  quantTrits(x: number, count: number, d: number, xStride: number, planes: number, recWords: number, scales: number, depth: number, tmp: number): void;
  ternaryScores(qp: number, qs: number, kp: number, ks: number, cap: number, start: number, n: number, nHeads: number, nKvHeads: number, d: number, depth: number, out: number): void;
  ternaryAttn(qp: number, qs: number, kp: number, ks: number, cap: number, start: number, n: number, values: number, nHeads: number, nKvHeads: number, d: number, depth: number, out: number, scratch: number): void;
  topkAttn(q: number, qp: number, qs: number, kp: number, ks: number, cap: number, start: number, n: number, keys: number, values: number, nHeads: number, nKvHeads: number, d: number, depth: number, k: number, tau: number, recent: number, out: number, scratch: number): void;
}

/** What this file needs of the wasm backend (WasmBackend has both). */
export interface WasmHost {
  heap: Heap;
  kernels: unknown;
}

export function wasmHost(b: Backend): WasmHost | null {
  const h = b as unknown as Partial<WasmHost>;
  return b.name === 'wasm' && h.heap && h.kernels ? (h as WasmHost) : null;
}

const a64 = (n: number) => Math.ceil(n / 64) * 64;

/** Ternary trits (depth D) of keys positions [0, length), head-major with room for `cap` positions. */
export class WasmTritKeys {
  readonly W: number;
  /** bytes of one vector's D records */
  readonly recBytes: number;
  /** bytes of one vector's D scales */
  readonly scaleBytes: number;
  cap = 0;
  kp = 0;
  ks = 0;
  length = 0;
  last = -1;

  constructor(
    readonly host: WasmHost,
    readonly d: number,
    readonly nKv: number,
    readonly depth: number,
  ) {
    this.W = tritWords(d);
    this.recBytes = depth * 2 * this.W * 4;
    this.scaleBytes = depth * 4;
  }

  /** Quantize positions [length, upto) of the keys at byte address `keys` (rows of nKv·d f32, row 0 at `keys`). */
  append(keys: number, upto: number): void {
    const heap = this.host.heap;
    const k = this.host.kernels as AttentionKernels;
    if (upto > this.cap) {
      const cap = Math.max(upto, this.cap * 2, 64);
      const kp = heap.alloc(a64(this.nKv * cap * this.recBytes), 'ternary keys');
      const ks = heap.alloc(a64(this.nKv * cap * this.scaleBytes), 'ternary key scales');
      const sb = this.scaleBytes;
      for (let g = 0; g < this.nKv && this.length > 0; g++) {
        heap.u8.copyWithin(kp + g * cap * this.recBytes, this.kp + g * this.cap * this.recBytes, this.kp + (g * this.cap + this.length) * this.recBytes);
        heap.u8.copyWithin(ks + g * cap * sb, this.ks + g * this.cap * sb, this.ks + (g * this.cap + this.length) * sb);
      }
      this.free();
      Object.assign(this, { kp, ks, cap });
    }
    const n = upto - this.length;
    if (n > 0) {
      const kvDim = this.nKv * this.d;
      const tmp = heap.alloc(a64(this.d * 4), 'trit residual');
      try {
        for (let g = 0; g < this.nKv; g++) {
          const v = g * this.cap + this.length;
          k.quantTrits(keys + (this.length * kvDim + g * this.d) * 4, n, this.d, kvDim, this.kp + v * this.recBytes, this.recBytes / 4, this.ks + v * this.scaleBytes, this.depth, tmp);
        }
      } finally {
        heap.free(tmp);
      }
      this.length = upto;
    }
  }

  /** Bytes of the filled positions (records + f32 scales). */
  get bytes(): number {
    return this.length * this.nKv * (this.recBytes + this.scaleBytes);
  }

  free(): void {
    if (this.kp) this.host.heap.free(this.kp);
    if (this.ks) this.host.heap.free(this.ks);
    this.kp = this.ks = this.cap = 0;
  }
}

const collected = new FinalizationRegistry<WasmTritKeys>((t) => t.free());

/** Pointers of one call: arrays in backend memory in place, the rest staged into scratch. */
class Staging {
  #blocks: number[] = [];
  constructor(readonly heap: Heap) {}
  ptr(a: Float32Array, from: number, len: number, copy: boolean): number {
    if (this.heap.owns(a)) return a.byteOffset + from * 4;
    return this.scratch(len * 4, copy ? a.subarray(from, from + len) : null);
  }
  scratch(bytes: number, init: Float32Array | null = null): number {
    const p = this.heap.alloc(a64(Math.max(bytes, 4)), 'attention staging');
    this.#blocks.push(p);
    if (init) this.heap.f32.set(init, p >>> 2);
    return p;
  }
  done(): void {
    for (const p of this.#blocks) this.heap.free(p);
    this.#blocks = [];
  }
}

function check(q: Float32Array, qOff: number, keys: Float32Array, values: Float32Array, pos: number, s: AttentionShape, out: Float32Array, outOff: number): void {
  const qn = s.nHeads * s.headDim;
  const kv = (pos + 1) * s.nKvHeads * s.headDim;
  const bad = (what: string, want: number, have: number) => new TritwiseError('E_SHAPE', `${what} too short`, { where: 'wasm attention', expected: want, got: have });
  if (q.length < qOff + qn) throw bad('query', qOff + qn, q.length);
  if (out.length < outOff + qn) throw bad('output', outOff + qn, out.length);
  if (Math.min(keys.length, values.length) < kv) throw bad('KV cache', kv, Math.min(keys.length, values.length));
}

/** The wasm AttentionFn of a mode, or null when the backend is not wasm (or the mode is exact). */
export function wasmAttention(m: AttentionMode, backend: Backend): AttentionFn | null {
  const host = wasmHost(backend);
  if (!host || m.kind === 'exact') return null;
  const heap = host.heap;
  const k = host.kernels as AttentionKernels;
  const tables = new WeakMap<Float32Array, WasmTritKeys>();
  return (q, qOff, keys, values, pos, s, out, outOff) => {
    check(q, qOff, keys, values, pos, s, out, outOff);
    const d = s.headDim;
    const kvDim = s.nKvHeads * d;
    const qn = s.nHeads * d;
    const start = windowStart(pos, s);
    const n = pos - start + 1;
    const st = new Staging(heap);
    try {
      const qp = st.ptr(q, qOff, qn, true);
      const op = st.ptr(out, outOff, qn, false);
      const vp = st.ptr(values, start * kvDim, n * kvDim, true);
      if (m.kind === 'flash') {
        k.flashF32(qp, st.ptr(keys, start * kvDim, n * kvDim, true), vp, n, s.nHeads, s.nKvHeads, d, op, st.scratch(64 * 4));
      } else {
        let t = tables.get(keys);
        if (!t || pos <= t.last || t.d !== d || t.nKv !== s.nKvHeads) {
          const depth = m.depth ?? 1;
          if (t) {
            collected.unregister(t);
            t.free();
          }
          t = new WasmTritKeys(host, d, s.nKvHeads, depth);
          tables.set(keys, t);
          collected.register(keys, t, t);
        }
        if (t.length < pos + 1) t.append(st.ptr(keys, t.length * kvDim, (pos + 1 - t.length) * kvDim, true) - t.length * kvDim * 4, pos + 1);
        t.last = pos;
        const D = t.depth;
        const tq = st.scratch(s.nHeads * t.recBytes);
        const tqs = st.scratch(s.nHeads * t.scaleBytes);
        k.quantTrits(qp, s.nHeads, d, d, tq, t.recBytes / 4, tqs, D, st.scratch(d * 4));
        if (m.kind === 'ternary') k.ternaryAttn(tq, tqs, t.kp, t.ks, t.cap, start, n, vp, s.nHeads, s.nKvHeads, d, D, op, st.scratch(n * 4));
        else {
          const kp = st.ptr(keys, start * kvDim, n * kvDim, true);
          k.topkAttn(qp, tq, tqs, t.kp, t.ks, t.cap, start, n, kp, vp, s.nHeads, s.nKvHeads, d, D, m.k ?? 32, m.threshold ?? -1, m.recent ?? 0, op, st.scratch(n * 12));
        }
      }
      if (!heap.owns(out)) out.set(heap.f32.subarray(op >>> 2, (op >>> 2) + qn), outOff);
    } finally {
      st.done();
    }
  };
}
