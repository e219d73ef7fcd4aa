/**
 * output — how CLI commands print: tables (cli-table3), JSON, byte sizes, and atomic JSON files.
 */
import Table from 'cli-table3';
import { writeFileAtomic, writeAll } from '../io/atomic-write.js';

export function printTable(head: string[], rows: (string | number)[][], out: NodeJS.WritableStream = process.stdout): void {
  const t = new Table({ head, style: { head: [], border: [] }, chars: { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' } });
  for (const r of rows) t.push(r.map(String));
  out.write(t.toString() + '\n');
}

export function printJson(v: unknown, out: NodeJS.WritableStream = process.stdout): void {
  out.write(JSON.stringify(v, null, 2) + '\n');
}

export function writeJsonFile(path: string, v: unknown): void {
  writeFileAtomic(path, (fd) => writeAll(fd, new TextEncoder().encode(JSON.stringify(v, null, 2) + '\n')));
}

export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[i]}`;
}

export function fixed(x: number, digits = 3): string {
  return Number.isFinite(x) ? x.toFixed(digits) : String(x);
}
