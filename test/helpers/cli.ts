/**
 * cli — run the built `tritwise` bin in a child process (tests of the command line end to end).
 */
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';

export const BIN = resolve(import.meta.dirname, '../../bin/tritwise.js');

export interface CliResult {
  code: number | null;
  out: string;
  err: string;
}

/** `tritwise …args` with a 2-minute limit; exit code, stdout and stderr. */
export function runCli(args: string[], env?: NodeJS.ProcessEnv): CliResult {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, ...(env ? { env } : {}) });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** runCli with the arguments spread. */
export function cli(...args: string[]): CliResult {
  return runCli(args);
}
