/**
 * plan — a quantization plan: which linear layers become ternary, and how.
 *
 *   {
 *     "quantizer": "absmean",        // default for every layer (absmean|twn|mse|threshold:Δ|percentile:p|calibrated)
 *     "groupSize": 0,                // columns per scale group, a multiple of 32 (0 = per row)
 *     "activation": "f32",           // f32 | int8 | ternary | q8k
 *     "dense": ["output"],           // glob patterns of layers kept dense (default: the output head)
 *     "layers": [                    // later rules win; each may set any of the fields above
 *       { "match": "layers.*.feed_forward.w2", "groupSize": 64 },
 *       { "match": "layers.0.*", "dense": true }
 *     ],
 *     "calibration": { "text": "calib.txt", "tokens": 2048, "ctx": 256 },  // for `calibrated`, `gptq`
 *                                    // (+ "actOrder": true, "tune": { "steps": 300 }: gptq column order,
 *                                    //  scale tuning with trits frozen — tune-scales.ts;
 *                                    //  "tune": { "trits": true, "tritLr": 0.02 } re-chooses the trits too)
 *     "depth": 1,                    // trits per weight, 1..6 (issue 6): see below
 *     "attention": "exact",          // exact | flash | ternary | topk:K | topk:t=τ (nn/attention-modes.ts)
 *     "prune": "magnitude:0.9"       // optional, also per layer: magnitude:S | rows:F | N:M (src/sparse/prune.ts)
 *   }
 * Attention modes are set per layer by rules matching `layers.N.attention`, e.g.
 *   { "match": "layers.4.attention", "attention": "topk:32" }  (rules naming linear layers never
 * change attention, except through globs such as `layers.0.*` that match both).
 * Names are the canonical linear names (layers.N.attention.wq … feed_forward.w3, output). The
 * embedding and the norms always stay f32; layers that are already ternary keep their trits and
 * only take the activation mode. Globs: `*` matches any run of characters.
 *
 * Depth (trits per weight, 1..6; rules may set it per layer): a layer of depth d > 1 becomes a
 * MultiTritTensor. The single-trit quantizers (absmean, twn, mse, threshold, percentile,
 * calibrated) are then applied greedily to the residual, d times (residual.ts); `rtn` rounds to
 * the uniform tryte grid with a searched scale (tryte-grid.ts); `gptq` is the calibrated,
 * error-compensating quantizer on the tryte grid and `gptq-residual` the same with free scales per
 * plane (gptq.ts; both need calibration text). At depth 1 every result is a TernaryTensor.
 */
import { checkTuneSettings, type TuneSettings } from './tune-settings.js';
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
import { parseAttentionMode } from '../nn/attention-modes.js';
import { parseQuantizer } from './weight-quantizers.js';
import { parsePrune } from '../sparse/prune.js';

function checkPrune(p: unknown, where: string): void {
  if (p === 'none') return;
  if (typeof p !== 'string') throw new TritwiseError('E_ARG', 'prune must be a spec string', { where, expected: 'magnitude:S | rows:F | N:M | none', got: p });
  parsePrune(p, where);
}

export interface LayerRule {
  match: string;
  quantizer?: string;
  groupSize?: number;
  activation?: ActivationMode;
  dense?: boolean;
  /** trits per weight, 1..6 */
  depth?: number;
  attention?: string;
  /** prune spec (src/sparse/prune.ts), or "none" */
  prune?: string;
  /**
   * sub-layer depths (gptq only, column-depth.ts): one digit per input column (0..depth: the
   * column keeps its top d trits) or per output row (1..depth), `depth` being the largest
   */
  columnDepths?: string;
  rowDepths?: string;
}

export interface CalibrationSettings {
  /** a text file (CLI/plan files) — or pass the text itself to Model.quantize */
  text?: string;
  /** tokens of calibration text to run (default 4096) */
  tokens?: number;
  /** context per calibration chunk (default: min(256, the model's context)) */
  ctx?: number;
  /**
   * gptq: quantize stage by stage (wq/wk/wv, wo, w1/w3, w2 of each layer in order), measuring
   * each stage's inputs on the model whose earlier stages are already quantized (default true)
   */
  sequential?: boolean;
  /** gptq: take the columns in decreasing E[x_c²] order (act-order; default false) */
  actOrder?: boolean;
  /**
   * after quantizing, tune every quantized layer's scales (one multiplier per row/group) and the
   * norms with the trits frozen (or, with `trits: true`, re-chosen through latent positions and the
   * straight-through estimator), by KL distillation from the f32 model on the calibration text
   * (tune-scales.ts). `tokens`: calibration tokens it may use (default: all of the text, while
   * `tokens` above limits the Hessian passes)
   */
  tune?: boolean | (TuneSettings & { tokens?: number });
}

export interface QuantPlan {
  quantizer?: string;
  groupSize?: number;
  activation?: ActivationMode;
  dense?: string[];
  layers?: LayerRule[];
  calibration?: CalibrationSettings;
  /** trits per weight for every layer (default 1) */
  depth?: number;
  attention?: string;
  /** prune spec for every ternary layer (src/sparse/prune.ts) */
  prune?: string;
}

export interface ResolvedLayer {
  name: string;
  dense: boolean;
  quantizer: string;
  groupSize: number;
  activation: ActivationMode;
  depth: number;
  /** prune spec, when the layer is pruned */
  prune?: string;
  columnDepths?: string;
  rowDepths?: string;
}

/** Quantizers that only exist for the tryte grid / need the Hessian of the layer inputs. */
export const TRYTE_QUANTIZERS = ['rtn', 'gptq', 'gptq-residual'] as const;
export const HESSIAN_QUANTIZERS = ['gptq', 'gptq-residual'] as const;

export const ACTIVATION_MODES: readonly ActivationMode[] = ['f32', 'int8', 'ternary', 'q8k'];

export function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${esc}$`);
}

function checkQuantizer(q: string, where: string): void {
  if (q === 'calibrated' || (TRYTE_QUANTIZERS as readonly string[]).includes(q)) return;
  try {
    parseQuantizer(q);
  } catch (e) {
    throw new TritwiseError('E_ARG', `${(e as Error).message}`, { where, cause: e });
  }
}

function checkGroup(g: unknown, where: string): void {
  if (!(Number.isInteger(g) && (g as number) >= 0 && (g as number) % 32 === 0)) throw new TritwiseError('E_ARG', 'invalid group size', { where, expected: '0 or a positive multiple of 32', got: g });
}

function checkDepth(d: unknown, where: string): void {
  if (!(Number.isInteger(d) && (d as number) >= 1 && (d as number) <= 6)) throw new TritwiseError('E_ARG', 'invalid depth', { where, expected: 'an integer 1..6 (trits per weight)', got: d });
}

function checkActivation(a: unknown, where: string): void {
  if (!ACTIVATION_MODES.includes(a as ActivationMode)) throw new TritwiseError('E_ARG', 'unknown activation mode', { where, expected: ACTIVATION_MODES.join(' | '), got: a });
}

/** Validate a plan object (from JSON or code); returns it unchanged. */
export function validatePlan(p: unknown, where = 'plan'): QuantPlan {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new TritwiseError('E_ARG', 'a plan must be an object', { where, got: Array.isArray(p) ? 'array' : typeof p });
  const plan = p as QuantPlan;
  const known = new Set(['quantizer', 'groupSize', 'activation', 'dense', 'layers', 'calibration', 'depth', 'attention', 'prune']);
  for (const k of Object.keys(plan)) if (!known.has(k)) throw new TritwiseError('E_ARG', 'unknown plan field', { where: `${where}.${k}`, expected: [...known].join(', '), got: k });
  if (plan.quantizer !== undefined) checkQuantizer(plan.quantizer, `${where}.quantizer`);
  if (plan.groupSize !== undefined) checkGroup(plan.groupSize, `${where}.groupSize`);
  if (plan.activation !== undefined) checkActivation(plan.activation, `${where}.activation`);
  if (plan.depth !== undefined) checkDepth(plan.depth, `${where}.depth`);
  if (plan.calibration !== undefined) {
    const c = plan.calibration;
    if (typeof c !== 'object' || c === null || Array.isArray(c)) throw new TritwiseError('E_ARG', 'calibration must be an object', { where: `${where}.calibration`, got: c });
    if (c.text !== undefined && typeof c.text !== 'string') throw new TritwiseError('E_ARG', 'calibration text must be a file name', { where: `${where}.calibration.text`, got: c.text });
    for (const k of ['tokens', 'ctx'] as const) if (c[k] !== undefined && !(Number.isInteger(c[k]) && c[k]! > 0)) throw new TritwiseError('E_ARG', `calibration ${k} must be a positive integer`, { where: `${where}.calibration.${k}`, got: c[k] });
    if (c.sequential !== undefined && typeof c.sequential !== 'boolean') throw new TritwiseError('E_ARG', 'calibration.sequential must be true or false', { where: `${where}.calibration.sequential`, got: c.sequential });
    if (c.actOrder !== undefined && typeof c.actOrder !== 'boolean') throw new TritwiseError('E_ARG', 'calibration.actOrder must be true or false', { where: `${where}.calibration.actOrder`, got: c.actOrder });
    if (c.tune !== undefined && typeof c.tune === 'object' && c.tune !== null && !Array.isArray(c.tune)) {
      const { tokens, ...rest } = c.tune;
      if (tokens !== undefined && !(Number.isInteger(tokens) && tokens > 0)) throw new TritwiseError('E_ARG', 'calibration.tune.tokens must be a positive integer', { where: `${where}.calibration.tune.tokens`, got: tokens });
      checkTuneSettings(rest, `${where}.calibration.tune`);
    } else checkTuneSettings(c.tune, `${where}.calibration.tune`);
  }
  if (plan.attention !== undefined) parseAttentionMode(plan.attention, `${where}.attention`);
  if (plan.prune !== undefined) checkPrune(plan.prune, `${where}.prune`);
  if (plan.dense !== undefined && !(Array.isArray(plan.dense) && plan.dense.every((d) => typeof d === 'string'))) throw new TritwiseError('E_ARG', 'dense must be a list of patterns', { where: `${where}.dense`, got: plan.dense });
  if (plan.layers !== undefined) {
    if (!Array.isArray(plan.layers)) throw new TritwiseError('E_ARG', 'layers must be a list of rules', { where: `${where}.layers`, got: typeof plan.layers });
    plan.layers.forEach((r, i) => {
      const w = `${where}.layers[${i}]`;
      if (typeof r !== 'object' || r === null || typeof r.match !== 'string') throw new TritwiseError('E_ARG', 'a layer rule needs a match pattern', { where: w, got: r });
      if (r.quantizer !== undefined) checkQuantizer(r.quantizer, `${w}.quantizer`);
      if (r.groupSize !== undefined) checkGroup(r.groupSize, `${w}.groupSize`);
      if (r.activation !== undefined) checkActivation(r.activation, `${w}.activation`);
      if (r.depth !== undefined) checkDepth(r.depth, `${w}.depth`);
      if (r.attention !== undefined) parseAttentionMode(r.attention, `${w}.attention`);
      if (r.prune !== undefined) checkPrune(r.prune, `${w}.prune`);
      for (const k of ['columnDepths', 'rowDepths'] as const) {
        const m = r[k];
        if (m === undefined) continue;
        if (typeof m !== 'string' || !/^[0-6]+$/.test(m)) throw new TritwiseError('E_ARG', `${k} must be a string of depth digits`, { where: `${w}.${k}`, expected: 'one digit 0..6 per column (or 1..6 per row)', got: typeof m === 'string' ? m.slice(0, 40) : m });
        const max = Math.max(...[...m].map(Number));
        if (r.depth === undefined || r.depth < max) throw new TritwiseError('E_ARG', `${k} needs the rule's depth to be at least its largest digit`, { where: `${w}.depth`, expected: `≥ ${max}`, got: r.depth });
      }
      if (r.columnDepths !== undefined && r.rowDepths !== undefined) throw new TritwiseError('E_ARG', 'a rule takes columnDepths or rowDepths, not both', { where: w, got: 'both' });
      if (r.dense !== undefined && typeof r.dense !== 'boolean') throw new TritwiseError('E_ARG', 'dense must be true or false', { where: `${w}.dense`, got: r.dense });
    });
  }
  return plan;
}

/** The settings of every linear layer under a plan. */
export function resolvePlan(plan: QuantPlan, names: readonly string[]): ResolvedLayer[] {
  validatePlan(plan);
  const denseRes = (plan.dense ?? ['output']).map(globToRegExp);
  const rules = (plan.layers ?? []).map((r) => ({ re: globToRegExp(r.match), r }));
  return names.map((name) => {
    const out: ResolvedLayer = {
      name,
      dense: denseRes.some((re) => re.test(name)),
      quantizer: plan.quantizer ?? 'absmean',
      groupSize: plan.groupSize ?? 0,
      activation: plan.activation ?? 'f32',
      depth: plan.depth ?? 1,
      ...(plan.prune && plan.prune !== 'none' ? { prune: plan.prune } : {}),
    };
    for (const { re, r } of rules) {
      if (!re.test(name)) continue;
      if (r.dense !== undefined) out.dense = r.dense;
      if (r.quantizer !== undefined) out.quantizer = r.quantizer;
      if (r.groupSize !== undefined) out.groupSize = r.groupSize;
      if (r.activation !== undefined) out.activation = r.activation;
      if (r.depth !== undefined) {
        out.depth = r.depth;
        delete out.columnDepths;
        delete out.rowDepths;
      }
      if (r.columnDepths !== undefined) out.columnDepths = r.columnDepths;
      if (r.rowDepths !== undefined) out.rowDepths = r.rowDepths;
      if (r.prune !== undefined) {
        if (r.prune === 'none') delete out.prune;
        else out.prune = r.prune;
      }
    }
    return out;
  });
}

/** True when any layer of the resolved plan needs calibration text (statistics or Hessians). */
export function needsCalibration(layers: ResolvedLayer[]): boolean {
  return layers.some((l) => !l.dense && (l.quantizer === 'calibrated' || needsHessian(l)));
}

/** True when the layer's quantizer needs E[x xᵀ] of its inputs. */
export function needsHessian(l: ResolvedLayer): boolean {
  return !l.dense && (HESSIAN_QUANTIZERS as readonly string[]).includes(l.quantizer);
}

/**
 * The attention mode of every layer under a plan (rules matched against `layers.N.attention`),
 * or null when the plan sets no attention anywhere (the model keeps its default).
 */
export function resolveAttention(plan: QuantPlan, nLayers: number): string[] | null {
  validatePlan(plan);
  const rules = (plan.layers ?? []).filter((r) => r.attention !== undefined);
  if (plan.attention === undefined && rules.length === 0) return null;
  const res = rules.map((r) => ({ re: globToRegExp(r.match), mode: r.attention! }));
  return Array.from({ length: nLayers }, (_, l) => {
    let mode = plan.attention ?? 'exact';
    for (const { re, mode: m } of res) if (re.test(`layers.${l}.attention`)) mode = m;
    return mode;
  });
}
