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
 *     "calibration": { "text": "calib.txt", "tokens": 2048, "ctx": 256 },  // for `calibrated`
 *     "prune": "magnitude:0.9"       // optional, also per layer: magnitude:S | rows:F | N:M (src/sparse/prune.ts)
 *   }
 * Names are the canonical linear names (layers.N.attention.wq … feed_forward.w3, output). The
 * embedding and the norms always stay f32; layers that are already ternary keep their trits and
 * only take the activation mode. Globs: `*` matches any run of characters.
 */
import type { ActivationMode } from '../backend/backend.js';
import { TritwiseError } from '../errors.js';
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
  /** prune spec (src/sparse/prune.ts), or "none" */
  prune?: string;
}

export interface CalibrationSettings {
  /** a text file (CLI/plan files) — or pass the text itself to Model.quantize */
  text?: string;
  /** tokens of calibration text to run (default 4096) */
  tokens?: number;
  /** context per calibration chunk (default: min(256, the model's context)) */
  ctx?: number;
}

export interface QuantPlan {
  quantizer?: string;
  groupSize?: number;
  activation?: ActivationMode;
  dense?: string[];
  layers?: LayerRule[];
  calibration?: CalibrationSettings;
  /** prune spec for every ternary layer (src/sparse/prune.ts) */
  prune?: string;
}

export interface ResolvedLayer {
  name: string;
  dense: boolean;
  quantizer: string;
  groupSize: number;
  activation: ActivationMode;
  /** prune spec, when the layer is pruned */
  prune?: string;
}

export const ACTIVATION_MODES: readonly ActivationMode[] = ['f32', 'int8', 'ternary', 'q8k'];

export function globToRegExp(glob: string): RegExp {
  const esc = glob.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
  return new RegExp(`^${esc}$`);
}

function checkQuantizer(q: string, where: string): void {
  if (q === 'calibrated') return;
  try {
    parseQuantizer(q);
  } catch (e) {
    throw new TritwiseError('E_ARG', `${(e as Error).message}`, { where, cause: e });
  }
}

function checkGroup(g: unknown, where: string): void {
  if (!(Number.isInteger(g) && (g as number) >= 0 && (g as number) % 32 === 0)) throw new TritwiseError('E_ARG', 'invalid group size', { where, expected: '0 or a positive multiple of 32', got: g });
}

function checkActivation(a: unknown, where: string): void {
  if (!ACTIVATION_MODES.includes(a as ActivationMode)) throw new TritwiseError('E_ARG', 'unknown activation mode', { where, expected: ACTIVATION_MODES.join(' | '), got: a });
}

/** Validate a plan object (from JSON or code); returns it unchanged. */
export function validatePlan(p: unknown, where = 'plan'): QuantPlan {
  if (typeof p !== 'object' || p === null || Array.isArray(p)) throw new TritwiseError('E_ARG', 'a plan must be an object', { where, got: Array.isArray(p) ? 'array' : typeof p });
  const plan = p as QuantPlan;
  const known = new Set(['quantizer', 'groupSize', 'activation', 'dense', 'layers', 'calibration', 'prune']);
  for (const k of Object.keys(plan)) if (!known.has(k)) throw new TritwiseError('E_ARG', 'unknown plan field', { where: `${where}.${k}`, expected: [...known].join(', '), got: k });
  if (plan.quantizer !== undefined) checkQuantizer(plan.quantizer, `${where}.quantizer`);
  if (plan.groupSize !== undefined) checkGroup(plan.groupSize, `${where}.groupSize`);
  if (plan.activation !== undefined) checkActivation(plan.activation, `${where}.activation`);
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
      if (r.prune !== undefined) checkPrune(r.prune, `${w}.prune`);
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
      ...(plan.prune && plan.prune !== 'none' ? { prune: plan.prune } : {}),
    };
    for (const { re, r } of rules) {
      if (!re.test(name)) continue;
      if (r.dense !== undefined) out.dense = r.dense;
      if (r.quantizer !== undefined) out.quantizer = r.quantizer;
      if (r.groupSize !== undefined) out.groupSize = r.groupSize;
      if (r.activation !== undefined) out.activation = r.activation;
      if (r.prune !== undefined) {
        if (r.prune === 'none') delete out.prune;
        else out.prune = r.prune;
      }
    }
    return out;
  });
}

/** True when any layer of the resolved plan needs calibration statistics. */
export function needsCalibration(layers: ResolvedLayer[]): boolean {
  return layers.some((l) => !l.dense && l.quantizer === 'calibrated');
}
