/**
 * `tritwise quantize <in> -o <out> [--plan file | flags]` — quantize a checkpoint under a plan
 * and save it as a tritwise model folder (weights, config, tokenizer).
 */
import { InvalidArgumentError, type Command } from 'commander';

function storageArg(s: string): 'planes' | 'auto' | 'csr' | 'block-sparse' {
  if (!['planes', 'auto', 'csr', 'block-sparse'].includes(s)) throw new InvalidArgumentError(`expected planes, auto, csr or block-sparse, got "${s}"`);
  return s as 'planes' | 'auto' | 'csr' | 'block-sparse';
}
import { addModelFlags, addPlanFlags, buildPlan, openModel, quantizeWithProgress, type ModelFlags, type PlanFlags } from './model-options.js';
import { fixed, formatBytes, printJson, printTable } from './output.js';

export function registerQuantize(program: Command): void {
  const cmd = program
    .command('quantize')
    .description('quantize a model (llama2.c, HF folder, GGUF) to trits under a plan and save it as a tritwise model folder')
    .argument('<in>', 'checkpoint file or folder')
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--json', 'print the per-layer report as JSON')
    .option('--storage <format>', 'ternary layers on disk: planes (default) | auto (CSR / block-sparse where the automatic layout choice runs them so) | csr | block-sparse', storageArg, 'planes');
  addPlanFlags(addModelFlags(cmd)).action(async (input: string, opts: ModelFlags & PlanFlags & { out: string; json?: boolean; storage: 'planes' | 'auto' | 'csr' | 'block-sparse' }) => {
    const model = await openModel(input, opts);
    try {
      const plan = buildPlan(opts);
      const { model: q, ms } = await quantizeWithProgress(model, plan);
      q.save(opts.out, { storage: opts.storage });
      const layers = q.info.layers ?? [];
      const report = { input, output: opts.out, plan, bytes_before: model.bytes, bytes_after: q.bytes, quantize_ms: ms, layers };
      if (opts.json) return printJson(report);
      printTable(
        ['layer', 'shape', 'kind', 'quantizer', 'group', 'activation', 'sparsity', 'rel. error', 'bytes'],
        layers.map((l) => [l.name, l.shape.join('×'), l.dense ? 'dense' : 'ternary', l.dense ? '—' : l.quantizer, l.dense ? '—' : l.groupSize || 'row', l.dense ? '—' : l.activation, l.sparsity === undefined ? '—' : `${(l.sparsity * 100).toFixed(1)}%`, l.relError === undefined ? '—' : fixed(l.relError, 3), formatBytes(l.bytes)]),
      );
      process.stdout.write(`weights: ${formatBytes(model.bytes)} → ${formatBytes(q.bytes)} (${fixed(model.bytes / q.bytes, 2)}× smaller) in ${fixed(ms / 1000, 2)} s; saved to ${opts.out}\n`);
    } finally {
      await model.dispose();
    }
  });
}
