/**
 * `tritwise export-gguf <in> -o <out.gguf> --type f32|tq2_0|tq1_0` — write a llama GGUF for
 * llama.cpp. Ternary layers become TQ2_0/TQ1_0 blocks (exact trits, f16 block scales); an
 * unquantized input is first quantized (plan flags, default absmean with 256-column groups).
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { GgufExportType } from '../io/gguf-model.js';
import { addModelFlags, addPlanFlags, buildPlan, hasPlanFlags, openModel, quantizeWithProgress, type ModelFlags, type PlanFlags } from './model-options.js';
import { formatBytes, printJson } from './output.js';

function typeArg(s: string): GgufExportType {
  if (s !== 'f32' && s !== 'tq2_0' && s !== 'tq1_0') throw new InvalidArgumentError(`expected f32, tq2_0 or tq1_0, got "${s}"`);
  return s;
}

export function registerExportGguf(program: Command): void {
  const cmd = program
    .command('export-gguf')
    .description('export a model as a llama GGUF (f32, TQ2_0 or TQ1_0) that llama.cpp loads')
    .argument('<in>', 'checkpoint file or folder')
    .requiredOption('-o, --out <file>', 'output .gguf file')
    .requiredOption('--type <t>', 'f32 | tq2_0 | tq1_0', typeArg)
    .option('--json', 'print the export report as JSON');
  addPlanFlags(addModelFlags(cmd)).action(async (input: string, opts: ModelFlags & PlanFlags & { out: string; type: GgufExportType; json?: boolean }) => {
    let model = await openModel(input, opts);
    const base = model;
    try {
      if (opts.type !== 'f32' && (!model.isQuantized || hasPlanFlags(opts))) {
        const plan = { groupSize: 256, ...buildPlan(opts) };
        if (!hasPlanFlags(opts)) process.stderr.write('note: the input is not ternary; quantizing with absmean, 256-column groups (pass plan flags to choose)\n');
        ({ model } = await quantizeWithProgress(model, plan));
      }
      const r = model.exportGguf(opts.out, opts.type);
      if (opts.json) return printJson({ input, output: opts.out, type: opts.type, ...r });
      for (const f of r.fallbacks) process.stderr.write(`note: ${f} cannot use the ${opts.type.toUpperCase()} layout (needs 256-column blocks); written as exact f32\n`);
      const counts = Object.values(r.types).reduce<Record<string, number>>((a, t) => ((a[t] = (a[t] ?? 0) + 1), a), {});
      process.stdout.write(`wrote ${opts.out}: ${formatBytes(r.bytes)}, tensors ${Object.entries(counts).map(([t, n]) => `${n} ${t}`).join(', ')}\n`);
    } finally {
      await base.dispose();
    }
  });
}
