/**
 * `tritwise eval <model> --text <file>` — perplexity (llama.cpp chunk protocol or per document),
 * optionally after quantizing in memory with plan flags.
 */
import { InvalidArgumentError, type Command } from 'commander';
import type { Model } from '../nn/model.js';
import { evaluatePerplexity, type PerplexityProtocol } from '../eval/perplexity.js';
import { RUN_BACKEND, addAttentionFlag, addModelFlags, addPlanFlags, buildPlan, hasPlanFlags, intArg, openModel, quantizeWithProgress, readText, type ModelFlags, type PlanFlags } from './model-options.js';
import { fixed, formatBytes, printJson, printTable } from './output.js';
import { progressBar } from './progress.js';

function protocolArg(s: string): PerplexityProtocol {
  if (s !== 'chunks' && s !== 'documents') throw new InvalidArgumentError(`expected chunks or documents, got "${s}"`);
  return s;
}

/** Zero fraction over all ternary layers (what pruning changed), or null without any. */
function ternarySparsity(model: Model): number | null {
  const t = (model.info.layers ?? []).filter((l) => !l.dense && l.sparsity !== undefined);
  const n = t.reduce((a, l) => a + l.shape[0] * l.shape[1], 0);
  return n ? t.reduce((a, l) => a + l.sparsity! * l.shape[0] * l.shape[1], 0) / n : null;
}

export function registerEval(program: Command): void {
  const cmd = program
    .command('eval')
    .description('perplexity of a model on a text file: llama.cpp chunks (default) or per document')
    .argument('<model>', 'checkpoint file or folder')
    .requiredOption('--text <file>', 'the text to score')
    .option('--ctx <n>', 'context length', intArg, 512)
    .option('--protocol <p>', 'chunks (llama.cpp: second half of each ctx chunk) | documents', protocolArg, 'chunks')
    .option('--doc-start <regex>', 'documents: a document starts at each paragraph matching this')
    .option('--limit <n>', 'at most this many chunks / documents', intArg)
    .option('--batch <n>', 'sequences per forward batch', intArg, 1)
    .option('--json', 'print the result as JSON');
  addPlanFlags(addAttentionFlag(addModelFlags(cmd, RUN_BACKEND))).action(async (path: string, opts: ModelFlags & PlanFlags & { text: string; ctx: number; protocol: PerplexityProtocol; docStart?: string; limit?: number; batch: number; json?: boolean }) => {
    const text = readText(opts.text, 'text');
    let model = await openModel(path, opts);
    const base = model;
    try {
      let quantizeMs: number | undefined;
      if (hasPlanFlags(opts)) ({ model, ms: quantizeMs } = await quantizeWithProgress(model, buildPlan(opts)));
      const bar = progressBar('eval');
      let r;
      try {
        r = await evaluatePerplexity(model, text, { protocol: opts.protocol, ctx: opts.ctx, limit: opts.limit, batch: opts.batch, docStart: opts.docStart ? new RegExp(opts.docStart) : undefined, onProgress: (d, t) => bar.update(d, t, opts.protocol) });
      } finally {
        bar.stop();
      }
      const out = { model: path, text: opts.text, backend: model.backend.name, attention: opts.attention ?? (model.info.plan as { attention?: string } | undefined)?.attention ?? 'exact', bytes: model.bytes, ...(quantizeMs !== undefined ? { plan: model.info.plan, quantize_ms: quantizeMs, ternary_sparsity: ternarySparsity(model) } : {}), ...r };
      if (opts.json) return printJson(out);
      printTable(
        ['protocol', 'ctx', 'scored tokens', 'mean NLL', 'perplexity', 'tokens/s', 'wall s', 'weights'],
        [[r.protocol, r.ctx, r.tokens_scored, fixed(r.mean_nll, 5), fixed(r.perplexity, 4), fixed(r.tokens_per_second, 1), fixed(r.wall_ms / 1000, 2), formatBytes(model.bytes)]],
      );
    } finally {
      await base.dispose();
    }
  });
}
