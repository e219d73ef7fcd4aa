/**
 * `tritwise quantize <in> -o <out> [--plan file | flags]` — quantize a checkpoint under a plan
 * and save it as a tritwise model folder (weights, config, tokenizer).
 *
 *   --depth d [--calibrate text]      d trits per weight everywhere (gptq with text, else rtn)
 *   --auto-bits b --calibrate text    choose each layer's depth for b stored bits per weight on
 *                                     average (1.6 per trit), by measured sensitivity
 *   --auto-ppl p --calibrate text     … for at most p % more perplexity on the calibration text
 *   --auto-bits b --granularity column  … a depth per input column instead of per layer, by gptq
 *                                     saliency (quant/column-depth.ts; the depth maps count in b)
 *   --plan-out plan.json              write the chosen plan (for `quantize --plan`)
 *   --qat-steps n                     then fine-tune at the plan's depths (quantize-qat.ts)
 *   --auto-bits b --qat-steps n --qat-prune-from d
 *                                     start every layer at d trits, train, drop trits where the
 *                                     trained model loses least down to b bits, train again
 */
import { InvalidArgumentError, type Command } from 'commander';
import { TritwiseError } from '../errors.js';
import { autoDepth, BITS_PER_TRIT } from '../quant/auto-depth.js';
import { allocateColumnDepths, type ColumnDepthResult } from '../quant/column-depth.js';
import { addModelFlags, addPlanFlags, buildPlan, numArg, openModel, quantizeWithProgress, readText, type ModelFlags, type PlanFlags } from './model-options.js';
import { fixed, formatBytes, printJson, printTable, writeJsonFile } from './output.js';
import { progressBar } from './progress.js';
import { addQatFlags, checkQatFlags, planWithDepths, runQat, usesQat, type QatFlags, type QatReport } from './quantize-qat.js';

interface QuantizeFlags extends ModelFlags, PlanFlags, QatFlags {
  out: string;
  json?: boolean;
  autoBits?: number;
  autoPpl?: number;
  planOut?: string;
  storage: Storage;
  granularity: 'layer' | 'column';
}

function positive(s: string): number {
  const n = numArg(s);
  if (!(n > 0)) throw new InvalidArgumentError(`expected a positive number, got "${s}"`);
  return n;
}

type Storage = 'planes' | 'auto' | 'csr' | 'block-sparse';

function storageArg(s: string): Storage {
  if (!['planes', 'auto', 'csr', 'block-sparse'].includes(s)) throw new InvalidArgumentError(`expected planes, auto, csr or block-sparse, got "${s}"`);
  return s as Storage;
}

function granularityArg(s: string): 'layer' | 'column' {
  if (s !== 'layer' && s !== 'column') throw new InvalidArgumentError(`expected layer or column, got "${s}"`);
  return s;
}

export function registerQuantize(program: Command): void {
  const cmd = program
    .command('quantize')
    .description('quantize a model (llama2.c, HF folder, GGUF) to trits under a plan and save it as a tritwise model folder')
    .argument('<in>', 'checkpoint file or folder')
    .requiredOption('-o, --out <dir>', 'output folder')
    .option('--auto-bits <bits>', `choose each layer's depth (1..6 trits) for this average of stored bits per weight (${BITS_PER_TRIT} per trit); needs --calibrate`, positive)
    .option('--auto-ppl <percent>', "choose each layer's depth for at most this perplexity increase (%) on the calibration text; needs --calibrate", positive)
    .option('--granularity <g>', "with --auto-bits: one depth per layer (layer, default) or per input column (column: salient columns deeper, the maps counted in the budget)", granularityArg, 'layer')
    .option('--plan-out <file>', 'write the plan used (with the chosen depths) as JSON')
    .option('--json', 'print the per-layer report as JSON')
    .option('--storage <format>', 'ternary layers on disk: planes (default) | auto (CSR / block-sparse where the automatic layout choice runs them so) | csr | block-sparse', storageArg, 'planes');
  addQatFlags(addPlanFlags(addModelFlags(cmd))).action(async (input: string, opts: QuantizeFlags) => {
    const model = await openModel(input, opts);
    try {
      let plan = buildPlan(opts);
      if (usesQat(opts)) checkQatFlags(opts, plan.calibration?.text);
      let auto: Awaited<ReturnType<typeof autoDepth>> | undefined;
      let columns: ColumnDepthResult | undefined;
      if (opts.granularity === 'column') {
        if (opts.autoBits === undefined) throw new TritwiseError('E_ARG', '--granularity column chooses depths under a bit budget', { where: 'quantize --granularity', expected: '--auto-bits <bits>', got: opts.autoPpl !== undefined ? '--auto-ppl' : 'no budget' });
        if (opts.qatPruneFrom !== undefined || opts.qatRealloc) throw new TritwiseError('E_ARG', 'column depths are not re-allocated during QAT', { where: 'quantize --granularity column', expected: 'no --qat-prune-from / --qat-realloc', got: opts.qatPruneFrom !== undefined ? '--qat-prune-from' : '--qat-realloc' });
      }
      if (opts.qatPruneFrom !== undefined) {
        // depths chosen on the trained model (plan-realloc.ts): the plan starts uniform at d
        const d = opts.qatPruneFrom;
        const b = opts.autoBits;
        if (b === undefined) throw new TritwiseError('E_ARG', '--qat-prune-from needs a bit budget', { where: 'quantize --qat-prune-from', expected: '--auto-bits <bits>', got: opts.autoPpl !== undefined ? '--auto-ppl' : 'none' });
        if (opts.depth !== undefined) throw new TritwiseError('E_ARG', 'two start depths', { where: 'quantize --qat-prune-from', expected: 'either --depth or --qat-prune-from', got: 'both' });
        if (!(b >= BITS_PER_TRIT * (d - 1) - 1e-9 && b < BITS_PER_TRIT * d)) throw new TritwiseError('E_ARG', 'bit budget outside what one pruning round reaches', { where: 'quantize --auto-bits with --qat-prune-from', expected: `${fixed(BITS_PER_TRIT * (d - 1), 2)} ≤ bits < ${fixed(BITS_PER_TRIT * d, 2)} (every layer at ${d} trits, at most one dropped)`, got: b });
        plan.quantizer ??= 'gptq';
        plan.depth = d;
      } else if (opts.autoBits !== undefined || opts.autoPpl !== undefined) {
        if (opts.autoBits !== undefined && opts.autoPpl !== undefined) throw new TritwiseError('E_ARG', 'choose one budget', { where: 'quantize', expected: '--auto-bits or --auto-ppl', got: 'both' });
        const file = plan.calibration?.text;
        if (!file) throw new TritwiseError('E_ARG', 'auto-tuning measures sensitivity on calibration text', { where: 'quantize --auto-bits/--auto-ppl', expected: '--calibrate <text file>', got: 'none' });
        plan.quantizer ??= 'gptq';
        const tok = model.requireTokenizer();
        const tokens = tok.encode(readText(file, 'calibration text'), { bos: false }).slice(0, plan.calibration?.tokens ?? 4096);
        const bar = progressBar('auto-tune');
        try {
          auto = await autoDepth(model.config, model.weights, model.backend, plan, {
            bits: opts.autoBits,
            maxIncrease: opts.autoPpl !== undefined ? opts.autoPpl / 100 : undefined,
            tokens,
            bos: tok.bos,
            ctx: plan.calibration?.ctx,
            onProgress: (p) => bar.update(p.done, p.total, p.phase === 'calibrate' ? 'calibrating' : p.name),
          });
        } finally {
          bar.stop();
        }
        plan = { ...auto.plan, calibration: plan.calibration };
        if (opts.granularity === 'column') {
          columns = await allocateColumnDepths(model.config, model.weights, model.backend, auto.layers, plan, { bits: opts.autoBits!, tokens, bos: tok.bos, ctx: plan.calibration?.ctx });
          plan = { ...columns.plan, calibration: plan.calibration };
        }
      }
      const quantized = await quantizeWithProgress(model, plan);
      const ms = quantized.ms;
      let q = quantized.model;
      let qat: QatReport | undefined;
      if (usesQat(opts)) ({ model: q, report: qat } = await runQat(model, q, opts, plan.calibration?.text));
      // re-allocation moved depths: the plan written is the one the saved model follows
      if (qat?.realloc) plan = planWithDepths(plan, qat.realloc.after);
      if (opts.planOut) writeJsonFile(opts.planOut, plan);
      q.save(opts.out, { storage: opts.storage });
      // after QAT: the plan's layers (depth, group, bytes unchanged); their errors were measured before training
      const layers = (quantized.model.info.layers ?? []).map((l) => (qat ? { ...l, relError: undefined } : l));
      const report = {
        input,
        output: opts.out,
        plan,
        bytes_before: model.bytes,
        bytes_after: q.bytes,
        quantize_ms: ms,
        layers,
        ...(q.info.tune ? { tune: q.info.tune } : {}),
        ...(qat ? { qat } : {}),
        ...(columns ? { columns: { bits: columns.bits, trit_bits: columns.tritBits, map_bits: columns.mapBits, weights_at_depth: columns.weightsAtDepth } } : {}),
        ...(auto ? { auto: { bits: auto.bits, base_nll: auto.baseNll, predicted_nll_increase: auto.predictedNllIncrease, measured_nll: auto.measuredNll, sensitivity: auto.layers } } : {}),
      };
      if (opts.json) return printJson(report);
      const tune = q.info.tune;
      if (tune) {
        const flips = tune.changed !== undefined ? `; ${tune.changed} of ${tune.weightsTuned} weights (${fixed((100 * tune.changed) / Math.max(1, tune.weightsTuned ?? 1), 2)} %) hold another integer` : '; trits frozen';
        process.stdout.write(`tuned ${tune.steps} steps on ${tune.tokens} calibration tokens: KL to f32 ${fixed(tune.klStart, 4)} → ${fixed(tune.klEnd, 4)} nats per token${flips}\n`);
      }
      if (qat) {
        process.stdout.write(`QAT at the plan's depths: ${qat.steps} steps (${qat.stopped}), ${qat.tokens} tokens in ${fixed(qat.seconds, 1)} s; validation perplexity ${fixed(qat.val_ppl_start ?? NaN, 3)} → ${fixed(qat.val_ppl_end ?? NaN, 3)}; ${qat.changed} of ${qat.weights_tuned} weights hold another integer\n`);
      }
      if (columns) process.stdout.write(`column depths: ${fixed(columns.tritBits, 3)} trit bits + ${fixed(columns.mapBits, 3)} map bits per weight; weights at depth 0..${columns.weightsAtDepth.length - 1}: ${columns.weightsAtDepth.join(' / ')}\n`);
      if (auto) {
        process.stdout.write(`auto-tuned: ${fixed(auto.bits, 3)} stored bits per weight (${fixed(auto.bits / BITS_PER_TRIT, 3)} trits); calibration NLL ${fixed(auto.baseNll, 4)} + predicted ${fixed(auto.predictedNllIncrease, 4)}${auto.measuredNll !== undefined ? `, measured ${fixed(auto.measuredNll - auto.baseNll, 4)}` : ''}\n`);
      }
      printTable(
        ['layer', 'shape', 'kind', 'quantizer', 'depth', 'group', 'activation', 'sparsity', 'rel. error', 'bytes'],
        layers.map((l) => [l.name, l.shape.join('×'), l.dense ? 'dense' : 'ternary', l.dense ? '—' : l.quantizer, l.dense ? '—' : l.depth, l.dense ? '—' : l.groupSize || 'row', l.dense ? '—' : l.activation, l.sparsity === undefined ? '—' : `${(l.sparsity * 100).toFixed(1)}%`, l.relError === undefined ? '—' : fixed(l.relError, 3), formatBytes(l.bytes)]),
      );
      process.stdout.write(`weights: ${formatBytes(model.bytes)} → ${formatBytes(q.bytes)} (${fixed(model.bytes / q.bytes, 2)}× smaller) in ${fixed(ms / 1000, 2)} s; saved to ${opts.out}${opts.planOut ? `; plan written to ${opts.planOut}` : ''}\n`);
    } finally {
      await model.dispose();
    }
  });
}
