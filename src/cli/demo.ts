/**
 * `tritwise demo` — the main job in one command: a Llama-shaped model in f32 and in trits, side
 * by side (bytes, load/quantize time, tokens/s; with --model and --text also perplexity and a
 * sample generation from each). With no files it builds a seeded random model.
 */
import type { Command } from 'commander';
import { createBackend } from '../backend/registry.js';
import { runDemo } from '../eval/demo.js';
import { RUN_BACKEND, addModelFlags, addPlanFlags, buildPlan, intArg, readText, type ModelFlags, type PlanFlags } from './model-options.js';
import { fixed, formatBytes, printJson, printTable } from './output.js';

interface DemoFlags extends ModelFlags, PlanFlags {
  model?: string;
  text?: string;
  layers: number;
  dim: number;
  ffn: number;
  heads: number;
  vocab: number;
  tokens: number;
  prompt?: string;
  ctx: number;
  chunks: number;
  seed: number;
  json?: boolean;
  trained: boolean;
  trainedModel?: string;
}

export function registerDemo(program: Command): void {
  const cmd = program
    .command('demo')
    .description('f32 vs ternary side by side: bytes, load/quantize time, tokens/s (and perplexity with --model/--text); then the bundled ternary model trained by tritwise on the Brown corpus: held-out perplexity and a sample')
    .option('--model <ckpt>', 'a checkpoint (default: a seeded random Llama-shaped model)')
    .option('--text <file>', 'text for perplexity before/after (with --model)')
    .option('--layers <n>', 'random model: layers', intArg, 6)
    .option('--dim <n>', 'random model: width', intArg, 512)
    .option('--ffn <n>', 'random model: feed-forward width', intArg, 1536)
    .option('--heads <n>', 'random model: attention heads', intArg, 8)
    .option('--vocab <n>', 'random model: vocabulary', intArg, 8000)
    .option('--tokens <n>', 'tokens generated for the speed measurement', intArg, 16)
    .option('--prompt <text>', 'prompt for the sample generations', 'Once upon a time')
    .option('--ctx <n>', 'perplexity context', intArg, 512)
    .option('--chunks <n>', 'perplexity chunks (llama.cpp protocol)', intArg, 4)
    .option('--seed <n>', 'random model seed', intArg, 1)
    .option('--json', 'print the report as JSON')
    .option('--trained-model <dir>', 'the trained ternary model to show (default: models/brown-ternary, trained by tritwise on the Brown corpus)')
    .option('--no-trained', 'skip the trained ternary model');
  addPlanFlags(addModelFlags(cmd, RUN_BACKEND)).action(async (opts: DemoFlags) => {
    const backend = await createBackend(opts.backend, { threads: opts.threads });
    try {
      const plan = buildPlan(opts);
      // the demo shows the fast path unless told otherwise: int8 activations run the exact
      // ternary×int8 table-lookup kernel; with f32 activations (--activation f32) a ternary layer
      // is no faster than a dense one on CPU (it adds and subtracts f32 values)
      if (opts.activation === undefined && plan.activation === undefined) plan.activation = 'int8';
      const r = await runDemo({
        backend,
        model: opts.model,
        tokenizer: opts.tokenizer,
        text: opts.text ? readText(opts.text, 'text') : undefined,
        shape: { layers: opts.layers, dim: opts.dim, ffn: opts.ffn, heads: opts.heads, vocab: opts.vocab },
        plan,
        calibrationText: plan.calibration?.text ? readText(plan.calibration.text, 'calibration text') : undefined,
        tokens: opts.tokens,
        prompt: opts.prompt,
        ctx: opts.ctx,
        chunks: opts.chunks,
        seed: opts.seed,
        onStep: opts.json ? undefined : (s) => process.stderr.write(`… ${s}\n`),
        trained: opts.trained ? (opts.trainedModel || !opts.model ? { path: opts.trainedModel, prompt: opts.prompt === 'Once upon a time' ? undefined : opts.prompt, seed: opts.seed } : null) : null,
      });
      if (opts.json) return printJson(r);
      const c = r.config;
      const [a, b] = r.sides;
      process.stdout.write(`f32 vs ternary, speed and bytes — model: ${r.source}, ${c.nLayers} layers, dim ${c.dim}, ffn ${c.hiddenDim}, vocab ${c.vocabSize}; plan ${JSON.stringify(r.plan)}\n`);
      process.stdout.write(`machine: ${r.machine.cpu}, ${r.machine.cores} cores, node ${r.machine.node}, backend ${String(r.machine.backend)}, threads ${String(r.machine.threads)}\n`);
      const rows: (string | number)[][] = [
        ['weights', formatBytes(a.bytes), formatBytes(b.bytes), `${fixed(a.bytes / b.bytes, 2)}× smaller`],
        ['load / quantize', `${fixed(a.prepare_ms / 1000, 2)} s (load)`, `${fixed(b.prepare_ms / 1000, 2)} s (quantize)`, ''],
        ['generation', `${fixed(a.tokens_per_second, 2)} tok/s`, `${fixed(b.tokens_per_second, 2)} tok/s`, `${fixed(b.tokens_per_second / a.tokens_per_second, 2)}× speed`],
      ];
      if (a.perplexity && b.perplexity) rows.push(['perplexity', fixed(a.perplexity.perplexity, 3), fixed(b.perplexity.perplexity, 3), `${a.perplexity.tokens_scored} tokens, ctx ${a.perplexity.ctx}`]);
      printTable(['', 'f32', 'ternary', ''], rows);
      for (const s of r.sides) if (s.sample !== undefined) process.stdout.write(`${s.variant}: ${JSON.stringify(s.sample)}\n`);
      const t = r.trained;
      if (t) {
        process.stdout.write(`\ntrained ternary model (${t.path}): ${t.layers} layers, dim ${t.dim}, vocab ${t.vocab}, ${t.trits.toLocaleString('en-US')} trits, ${formatBytes(t.bytes)}; trained by tritwise, ternary from the first step\n`);
        if (t.perplexity) {
          const uni = t.unigram_perplexity !== undefined ? `, unigram of the held-out text itself ${fixed(t.unigram_perplexity, 1)}` : '';
          process.stdout.write(`held-out perplexity (Brown texts never trained on): ${fixed(t.perplexity.perplexity, 2)} (${t.perplexity.tokens_scored} tokens, ctx ${t.perplexity.ctx}); baselines: uniform ${t.uniform_perplexity}${uni}\n`);
        }
        process.stdout.write(`sample (seed ${opts.seed}, temperature 0.8, top-p 0.9, ${fixed(t.tokens_per_second, 1)} tokens/s): ${JSON.stringify(t.sample)}\n`);
      }
    } finally {
      await backend.dispose();
    }
  });
}
