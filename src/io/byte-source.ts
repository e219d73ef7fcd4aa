/**
 * byte-source — random access to the bytes of a file or an in-memory buffer.
 *
 * Parsers of checkpoint formats read through this, so a 10 GB file is never loaded whole and the
 * same parser works in the browser on an ArrayBuffer. Every read is bounds-checked: asking past
 * the end is an E_TRUNCATED error naming the source, never a short read.
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { TritwiseError } from '../errors.js';

export interface ByteSource {
  /** file path or a label, used in error messages */
  readonly name: string;
  readonly size: number;
  /** `length` bytes at `offset` (a fresh copy, safe to keep). */
  read(offset: number, length: number): Uint8Array;
  close(): void;
}

function checkRange(src: ByteSource, offset: number, length: number, what: string): void {
  if (!(Number.isSafeInteger(offset) && Number.isSafeInteger(length) && offset >= 0 && length >= 0)) {
    throw new TritwiseError('E_FORMAT', `invalid byte range for ${what}`, { where: src.name, expected: 'non-negative integers', got: `offset ${offset}, length ${length}` });
  }
  if (offset + length > src.size) {
    throw new TritwiseError('E_TRUNCATED', `file ends before ${what}`, { where: src.name, expected: `${offset + length} bytes`, got: `${src.size} bytes` });
  }
}

export class BufferSource implements ByteSource {
  readonly size: number;
  constructor(
    readonly bytes: Uint8Array,
    readonly name = '<buffer>',
  ) {
    this.size = bytes.byteLength;
  }
  read(offset: number, length: number, what = 'data'): Uint8Array {
    checkRange(this, offset, length, what);
    return this.bytes.slice(offset, offset + length);
  }
  close(): void {}
}

export class FileSource implements ByteSource {
  readonly size: number;
  #fd: number | null;

  constructor(readonly name: string) {
    try {
      this.#fd = openSync(name, 'r');
      this.size = fstatSync(this.#fd).size;
    } catch (e) {
      throw new TritwiseError('E_IO', 'cannot open file', { where: name, got: (e as Error).message, cause: e });
    }
  }

  read(offset: number, length: number, what = 'data'): Uint8Array {
    checkRange(this, offset, length, what);
    if (this.#fd === null) throw new TritwiseError('E_IO', 'file is closed', { where: this.name });
    const out = new Uint8Array(length);
    let done = 0;
    while (done < length) {
      const n = readSync(this.#fd, out, done, Math.min(length - done, 1 << 30), offset + done);
      if (n <= 0) throw new TritwiseError('E_TRUNCATED', `file ends before ${what}`, { where: this.name, expected: `${offset + length} bytes`, got: `${offset + done} bytes` });
      done += n;
    }
    return out;
  }

  close(): void {
    if (this.#fd !== null) closeSync(this.#fd);
    this.#fd = null;
  }
}
