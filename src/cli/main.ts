/**
 * main — the `tritwise` command: one subcommand per file in this folder.
 * Errors: a TritwiseError prints "tritwise: <code>: <message>" and exits 2; a bad flag exits 1.
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { TritwiseError } from '../errors.js';
import { registerBench } from './bench.js';
import { registerBenchAttention } from './bench-attention.js';
import { registerBenchSparsity } from './bench-sparsity.js';
import { registerInspect } from './inspect.js';
import { registerVsa } from './vsa.js';
import { registerDemo } from './demo.js';
import { registerEval } from './eval.js';
import { registerExportGguf } from './export-gguf.js';
import { registerQuantize } from './quantize.js';
import { registerRun } from './run.js';
import { registerServe } from './serve.js';
import { registerFinetune } from './finetune.js';

function version(): string {
  try {
    return (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
  } catch {
    return 'unknown';
  }
}

export function buildProgram(): Command {
  const program = new Command();
  program.name('tritwise').description('ternary (1.58-bit) neural-network weights: quantize, inspect, run, benchmark').version(version());
  registerInspect(program);
  registerBench(program);
  registerBenchAttention(program);
  registerBenchSparsity(program);
  registerVsa(program);
  registerQuantize(program);
  registerRun(program);
  registerEval(program);
  registerExportGguf(program);
  registerDemo(program);
  registerServe(program);
  registerFinetune(program);
  program.exitOverride();
  return program;
}

/** Run the CLI with `argv` (without "node script"); returns the exit code. */
export async function runCli(argv: string[]): Promise<number> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv, { from: 'user' });
    return typeof process.exitCode === 'number' ? process.exitCode : 0; // a command may set its own (finetune: 130 when interrupted)
  } catch (e) {
    if (e instanceof CommanderError) return e.exitCode;
    if (e instanceof TritwiseError) {
      process.stderr.write(`tritwise: ${e.code}: ${e.message}\n`);
      return 2;
    }
    throw e;
  }
}
