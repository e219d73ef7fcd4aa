/**
 * atomic-write — write a file so that readers see the old file or the whole new one, never a
 * torn one: write to a temp file beside it, fsync, then rename over the target.
 */
import { closeSync, fsyncSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { TritwiseError } from '../errors.js';

/** Run `write(fd)` against a temp file, then move it to `path`. On any error the temp file is removed. */
export function writeFileAtomic(path: string, write: (fd: number) => void): void {
  const tmp = join(dirname(path), `.${basename(path)}.${process.pid}.${Date.now()}.tmp`);
  let fd: number | null = null;
  try {
    fd = openSync(tmp, 'w');
    write(fd);
    fsyncSync(fd);
    closeSync(fd);
    fd = null;
    renameSync(tmp, path);
  } catch (e) {
    if (fd !== null) closeSync(fd);
    rmSync(tmp, { force: true });
    if (e instanceof TritwiseError) throw e;
    throw new TritwiseError('E_IO', 'cannot write file', { where: path, got: (e as Error).message, cause: e });
  }
}

/** writeSync until every byte of `data` is written. */
export function writeAll(fd: number, data: Uint8Array): void {
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, data.byteLength - done);
}
