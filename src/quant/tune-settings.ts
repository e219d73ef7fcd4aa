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
  /**
   * also re-choose the trits (train/trit-linear.ts): each weight's integer follows a latent
   * position trained through the straight-through estimator (default false: trits frozen)
   */
  trits?: boolean;
  /** learning rate of the latent positions, in grid steps per update (default 0.01; needs trits) */
  tritLr?: number;
  /**
   * where the latent positions start inside their integer's cell: 'f32' (at the f32 weight,
   * clamped to ±0.49 of the integer; default) or 'centre' (at the integer itself); needs trits
   */
  tritStart?: 'f32' | 'centre';
}

const TUNE_KEYS = ['steps', 'lr', 'batch', 'ctx', 'norms', 'seed', 'trits', 'tritLr', 'tritStart'];

export function checkTuneSettings(t: unknown, where: string): void {
  if (t === undefined || t === false) return;
  if (t === true) return;
  if (typeof t !== 'object' || t === null || Array.isArray(t)) throw new TritwiseError('E_ARG', 'tune must be true or an object', { where, expected: '{ steps, lr, batch, ctx, norms, seed, trits, tritLr, tritStart }', got: t });
  const o = t as Record<string, unknown>;
  for (const k of Object.keys(o)) if (!TUNE_KEYS.includes(k)) throw new TritwiseError('E_ARG', `unknown tune setting '${k}'`, { where, expected: TUNE_KEYS.join(', '), got: k });
  for (const k of ['steps', 'batch', 'ctx']) if (o[k] !== undefined && !(Number.isInteger(o[k]) && (o[k] as number) > 0)) throw new TritwiseError('E_ARG', `tune.${k} must be a positive integer`, { where: `${where}.${k}`, got: o[k] });
  if (o.lr !== undefined && !(typeof o.lr === 'number' && o.lr > 0 && Number.isFinite(o.lr))) throw new TritwiseError('E_ARG', 'tune.lr must be a positive number', { where: `${where}.lr`, got: o.lr });
  if (o.tritLr !== undefined && !(typeof o.tritLr === 'number' && o.tritLr > 0 && Number.isFinite(o.tritLr))) throw new TritwiseError('E_ARG', 'tune.tritLr must be a positive number', { where: `${where}.tritLr`, got: o.tritLr });
  if (o.trits !== undefined && typeof o.trits !== 'boolean') throw new TritwiseError('E_ARG', 'tune.trits must be true or false', { where: `${where}.trits`, got: o.trits });
  if (o.tritLr !== undefined && o.trits !== true) throw new TritwiseError('E_ARG', 'tune.tritLr needs tune.trits: true', { where: `${where}.tritLr`, expected: 'trits: true (the trits are frozen otherwise)', got: o.trits ?? 'trits not set' });
  if (o.tritStart !== undefined && o.tritStart !== 'f32' && o.tritStart !== 'centre') throw new TritwiseError('E_ARG', "tune.tritStart must be 'f32' or 'centre'", { where: `${where}.tritStart`, got: o.tritStart });
  if (o.tritStart !== undefined && o.trits !== true) throw new TritwiseError('E_ARG', 'tune.tritStart needs tune.trits: true', { where: `${where}.tritStart`, got: o.trits ?? 'trits not set' });
  if (o.norms !== undefined && typeof o.norms !== 'boolean') throw new TritwiseError('E_ARG', 'tune.norms must be true or false', { where: `${where}.norms`, got: o.norms });
}

