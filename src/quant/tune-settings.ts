/**
 * tune-settings — the settings of post-training scale tuning (tune-scales.ts) as a plan holds
 * them (`calibration.tune`), and their validation.
 */
import { TritwiseError } from '../errors.js';

export interface TuneSettings {
  /** optimizer steps (default 100) */
  steps?: number;
  /** peak learning rate of the multipliers (default 2e-3) */
  lr?: number;
  /** windows per step (default 4) */
  batch?: number;
  /** tokens per window (default min(128, the model's context)) */
  ctx?: number;
  /** also train the RMSNorm weights (default true) */
  norms?: boolean;
  seed?: number;
}

export function checkTuneSettings(t: unknown, where: string): void {
  if (t === undefined || t === false) return;
  if (t === true) return;
  if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new TritwiseError('E_ARG', 'tune must be true or an object', { where, expected: '{ steps, lr, batch, ctx, norms, seed }', got: t });
  const o = t as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!['steps', 'lr', 'batch', 'ctx', 'norms', 'seed'].includes(k)) throw new TritwiseError('E_ARG', `unknown tune setting '${k}'`, { where, expected: 'steps, lr, batch, ctx, norms, seed', got: k });
  for (const k of ['steps', 'batch', 'ctx']) if (o[k] !== undefined && !(Number.isInteger(o[k]) && (o[k] as number) > 0)) throw new TritwiseError('E_ARG', `tune.${k} must be a positive integer`, { where: `${where}.${k}`, got: o[k] });
  if (o.lr !== undefined && !(typeof o.lr === 'number' && o.lr > 0 && Number.isFinite(o.lr))) throw new TritwiseError('E_ARG', 'tune.lr must be a positive number', { where: `${where}.lr`, got: o.lr });
  if (o.norms !== undefined && typeof o.norms !== 'boolean') throw new TritwiseError('E_ARG', 'tune.norms must be true or false', { where: `${where}.norms`, got: o.norms });
}

