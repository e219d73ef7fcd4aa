/**
 * `tritwise inspect <file> [--json]` — a table of the tensors in a weights or model file.
 */
import type { Command } from 'commander';
import { inspectFile } from '../io/inspect.js';
import { installHostCostModel } from '../sparse/cost-cache.js';
import { fixed, formatBytes, printJson, printTable } from './output.js';

export function registerInspect(program: Command): void {
  program
    .command('inspect')
    .description('list the tensors of a weights file: name, shape, format, bits/weight, sparsity, bytes')
    .argument('<file>', 'a .safetensors file (tritwise or ordinary), a .gguf, a llama2.c .bin, or a model folder')
    .option('--json', 'print JSON instead of a table')
    .action((file: string, opts: { json?: boolean }) => {
      const cost = installHostCostModel();
      const s = inspectFile(file);
      if (opts.json) return printJson(s);
      printTable(
        ['tensor', 'shape', 'format', 'bits/w', 'sparsity', 'bytes', 'auto layout (f32 / int8)'],
        s.tensors.map((t) => [t.name, t.shape.join('×'), t.format + (t.quantizer ? ` (${t.quantizer}${t.group_size ? `, g${t.group_size}` : ''})` : ''), fixed(t.bits_per_weight, 2), t.sparsity === null ? '—' : `${(t.sparsity * 100).toFixed(1)}%`, formatBytes(t.bytes), t.auto_layout ? `${t.auto_layout.f32} / ${t.auto_layout.int8}` : '']),
      );
      if (s.tensors.some((t) => t.auto_layout)) process.stdout.write(`auto layout: the wasm backend's per-layer choice from measured density and the cost model (${cost})\n`);
      process.stdout.write(`${s.tensors.length} tensors, ${s.parameters.toLocaleString('en-US')} parameters, ${formatBytes(s.bytes)} on disk\n`);
    });
}
