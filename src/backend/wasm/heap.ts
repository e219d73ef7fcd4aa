/**
 * heap — the shared WebAssembly.Memory and a first-fit allocator over it, on the host side.
 *
 * The kernels allocate nothing; the host places weights, staging buffers and outputs here and
 * passes byte offsets. Blocks are 64-byte aligned with Math.ceil(n/64)·64 (never `& ~63`, which
 * breaks above 2 GiB because JS bit operators are signed 32-bit). Freed blocks are coalesced.
 * The memory grows on demand up to `maxPages`; views are refreshed after a grow.
 */
import { TritwiseError } from '../../errors.js';

const PAGE = 65536;
/**
 * Bytes below this offset are never allocated: the module's static data (math tables at
 * 1024–3.5 KiB) and, from 8192 (layouts.ts CSR_X), the staged activation row of the padded CSR kernels.
 */
export const HEAP_BASE = 65536;

export function align64(n: number): number {
  return Math.ceil(n / 64) * 64;
}

export class Heap {
  readonly memory: WebAssembly.Memory;
  #free: { ptr: number; size: number }[] = [];
  #sizes = new Map<number, number>();
  #top = HEAP_BASE;
  #u8!: Uint8Array;
  #i8!: Int8Array;
  #i32!: Int32Array;
  #u32!: Uint32Array;
  #f32!: Float32Array;
  #u16!: Uint16Array;
  #f64!: Float64Array;
  /** Every buffer this memory has had (a grow gives a new, longer one; old views stay valid). */
  readonly #buffers = new WeakSet<ArrayBufferLike>();

  constructor(readonly maxPages: number) {
    this.memory = new WebAssembly.Memory({ initial: 32, maximum: maxPages, shared: true });
    this.#refresh();
  }

  #refresh(): void {
    const b = this.memory.buffer;
    this.#buffers.add(b);
    this.#u8 = new Uint8Array(b);
    this.#i8 = new Int8Array(b);
    this.#i32 = new Int32Array(b);
    this.#u32 = new Uint32Array(b);
    this.#f32 = new Float32Array(b);
    this.#u16 = new Uint16Array(b);
    this.#f64 = new Float64Array(b);
  }

  /** Whether a typed array (or a buffer) is in this memory (then a view's byteOffset is its address). */
  owns(a: ArrayBufferView | ArrayBufferLike): boolean {
    const b = ArrayBuffer.isView(a) ? a.buffer : a;
    if (this.#buffers.has(b)) return true;
    if (b !== this.memory.buffer) return false;
    this.#buffers.add(b);
    return true;
  }

  get bytes(): number {
    return this.memory.buffer.byteLength;
  }
  get u8(): Uint8Array {
    return this.#u8;
  }
  get i8(): Int8Array {
    return this.#i8;
  }
  get i32(): Int32Array {
    return this.#i32;
  }
  get u32(): Uint32Array {
    return this.#u32;
  }
  get f32(): Float32Array {
    return this.#f32;
  }
  get u16(): Uint16Array {
    return this.#u16;
  }
  get f64(): Float64Array {
    return this.#f64;
  }

  /** A 64-byte-aligned block of at least `bytes` bytes (contents undefined). */
  alloc(bytes: number, what = 'buffer'): number {
    const size = align64(Math.max(bytes, 1));
    for (let i = 0; i < this.#free.length; i++) {
      const f = this.#free[i]!;
      if (f.size < size) continue;
      const ptr = f.ptr;
      if (f.size === size) this.#free.splice(i, 1);
      else {
        f.ptr += size;
        f.size -= size;
      }
      this.#sizes.set(ptr, size);
      return ptr;
    }
    const ptr = this.#top;
    const end = ptr + size;
    if (end > this.bytes) {
      const pages = Math.ceil((end - this.bytes) / PAGE);
      try {
        this.memory.grow(pages);
      } catch (e) {
        throw new TritwiseError('E_BACKEND', 'WebAssembly memory exhausted', { where: `wasm heap (${what})`, expected: `${end} bytes ≤ ${this.maxPages * PAGE}`, got: `${this.bytes} bytes in use`, cause: e });
      }
      this.#refresh();
    }
    this.#top = end;
    this.#sizes.set(ptr, size);
    return ptr;
  }

  free(ptr: number): void {
    const size = this.#sizes.get(ptr);
    if (size === undefined) return;
    this.#sizes.delete(ptr);
    let i = 0;
    while (i < this.#free.length && this.#free[i]!.ptr < ptr) i++;
    this.#free.splice(i, 0, { ptr, size });
    // coalesce with neighbours
    if (i + 1 < this.#free.length && ptr + size === this.#free[i + 1]!.ptr) {
      this.#free[i]!.size += this.#free[i + 1]!.size;
      this.#free.splice(i + 1, 1);
    }
    if (i > 0 && this.#free[i - 1]!.ptr + this.#free[i - 1]!.size === ptr) {
      this.#free[i - 1]!.size += this.#free[i]!.size;
      this.#free.splice(i, 1);
    }
    // give the tail back to the bump pointer
    const last = this.#free[this.#free.length - 1];
    if (last && last.ptr + last.size === this.#top) {
      this.#top = last.ptr;
      this.#free.pop();
    }
  }

  /** Bytes currently allocated. */
  get used(): number {
    let n = 0;
    for (const s of this.#sizes.values()) n += s;
    return n;
  }
}

/**
 * A growable staging buffer: reallocated only when a call needs more than it has, so steady-state
 * calls allocate nothing.
 */
export class Scratch {
  ptr = 0;
  size = 0;
  constructor(
    private readonly heap: Heap,
    readonly name: string,
  ) {}
  ensure(bytes: number): number {
    if (bytes > this.size) {
      if (this.ptr) this.heap.free(this.ptr);
      this.size = align64(Math.max(bytes, this.size * 1.25));
      this.ptr = this.heap.alloc(this.size, this.name);
    }
    return this.ptr;
  }
  release(): void {
    if (this.ptr) this.heap.free(this.ptr);
    this.ptr = 0;
    this.size = 0;
  }
}
