/**
 * train-state — the checkpoint a fine-tuning run resumes from: one safetensors file holding
 *
 *   param/<name>     every trainable tensor (F32, or F64 for an f64 model)
 *   adam.m/<name>    AdamW first moments
 *   adam.v/<name>    AdamW second moments
 *   __metadata__["tritwise.train"] = JSON { version: 1, step, adamT, fingerprint, history }
 *
 * written atomically (temp file, fsync, rename), so a run killed at any moment leaves the previous
 * checkpoint or the new one, never a torn file. The fingerprint records everything a resumed run
 * must share with the original for the result to be identical (mode, hyper-parameters, seed, a
 * hash of the training tokens); loading checks it, and every tensor's name, dtype and shape.
 */
import { TritwiseError } from '../errors.js';
import { SafetensorsFile, writeSafetensors, type TensorToWrite } from '../io/safetensors.js';
import type { AdamW } from './optimizer.js';
import type { Tensor } from './tensor.js';

export const TRAIN_STATE_VERSION = 1;
const KEY = 'tritwise.train';

export interface EvalPoint {
  step: number;
  val_loss: number;
  val_ppl: number;
  tokens: number;
  elapsed_s: number;
}

export interface TrainState {
  step: number;
  adamT: number;
  fingerprint: Record<string, unknown>;
  history: EvalPoint[];
  /** training tokens consumed and wall seconds spent before this checkpoint */
  tokens: number;
  elapsed_s: number;
  /** runs planned over wall time (trainer.ts budgetSeconds): the costs the stopping rule had measured */
  timing?: RunTiming;
}

/** Measured costs a time-budgeted run plans its end with (seconds). */
export interface RunTiming {
  /** the last few steps' durations, oldest first */
  step_s: number[];
  /** the last validation pass, and the slowest checkpoint write (null: none yet) */
  val_s: number | null;
  save_s: number | null;
  /** elapsed seconds when the run's first step began (the start of the schedule; null: not yet) */
  start_s?: number | null;
}

function parseTiming(v: unknown): RunTiming | undefined {
  if (typeof v !== 'object' || v === null) return undefined;
  const t = v as Record<string, unknown>;
  const num = (x: unknown) => (isFiniteNumber(x) && x >= 0 ? x : null);
  const steps = Array.isArray(t.step_s) ? t.step_s.filter((x): x is number => isFiniteNumber(x) && x >= 0) : [];
  return { step_s: steps, val_s: num(t.val_s), save_s: num(t.save_s), start_s: num(t.start_s) };
}

function dtypeOf(a: Float32Array | Float64Array): 'F32' | 'F64' {
  return a instanceof Float64Array ? 'F64' : 'F32';
}

export function saveTrainState(path: string, params: Map<string, Tensor>, opt: AdamW, state: TrainState): void {
  const entries: TensorToWrite[] = [];
  for (const [name, p] of params) {
    const shape = [...p.shape];
    entries.push({ name: `param/${name}`, dtype: dtypeOf(p.data), shape, data: p.data });
    entries.push({ name: `adam.m/${name}`, dtype: dtypeOf(p.data), shape, data: opt.m.get(name)! });
    entries.push({ name: `adam.v/${name}`, dtype: dtypeOf(p.data), shape, data: opt.v.get(name)! });
  }
  writeSafetensors(path, entries, { [KEY]: JSON.stringify({ version: TRAIN_STATE_VERSION, ...state }) });
}

function describeDiff(want: Record<string, unknown>, got: Record<string, unknown>): string | null {
  for (const k of new Set([...Object.keys(want), ...Object.keys(got)])) {
    if (JSON.stringify(want[k]) !== JSON.stringify(got[k])) return `${k}: this run ${JSON.stringify(want[k])}, checkpoint ${JSON.stringify(got[k])}`;
  }
  return null;
}

function isFiniteNumber(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Read a checkpoint into `params` and `opt` (in place, only once all of it checks out); returns its state. */
export function loadTrainState(path: string, params: Map<string, Tensor>, opt: AdamW, fingerprint: Record<string, unknown>): TrainState {
  const f = SafetensorsFile.open(path);
  try {
    const raw = f.metadata[KEY];
    if (raw === undefined) throw new TritwiseError('E_FORMAT', 'not a tritwise training checkpoint', { where: path, expected: `__metadata__["${KEY}"]`, got: 'no such key' });
    let meta: Record<string, unknown>;
    try {
      meta = JSON.parse(raw);
    } catch (e) {
      throw new TritwiseError('E_FORMAT', 'training state is not valid JSON', { where: `${path}: ${KEY}`, got: (e as Error).message });
    }
    if (typeof meta !== 'object' || meta === null || Array.isArray(meta)) throw new TritwiseError('E_FORMAT', 'training state is not an object', { where: `${path}: ${KEY}`, got: typeof meta });
    if (meta.version !== TRAIN_STATE_VERSION) throw new TritwiseError('E_FORMAT', 'unsupported training checkpoint version', { where: path, expected: TRAIN_STATE_VERSION, got: meta.version });
    for (const k of ['step', 'adamT', 'tokens', 'elapsed_s'] as const) {
      if (!isFiniteNumber(meta[k]) || (meta[k] as number) < 0) throw new TritwiseError('E_FORMAT', `invalid ${k} in training state`, { where: path, expected: 'a number ≥ 0', got: meta[k] });
    }
    if (!Number.isSafeInteger(meta.step) || !Number.isSafeInteger(meta.adamT)) throw new TritwiseError('E_FORMAT', 'step counts must be integers', { where: path, got: `${meta.step}, ${meta.adamT}` });
    const fp = meta.fingerprint;
    if (typeof fp !== 'object' || fp === null || Array.isArray(fp)) throw new TritwiseError('E_FORMAT', 'training state has no fingerprint', { where: path, got: fp });
    const diff = describeDiff(fingerprint, fp as Record<string, unknown>);
    if (diff) throw new TritwiseError('E_ARG', 'checkpoint belongs to a different run; resuming would not reproduce it', { where: path, expected: 'the same model, data and settings', got: diff });
    const history = Array.isArray(meta.history) ? (meta.history as EvalPoint[]).filter((h) => typeof h === 'object' && h !== null && isFiniteNumber(h.step)) : [];
    const names = new Set<string>();
    const pending: [Float32Array | Float64Array, Float32Array | Float64Array][] = [];
    for (const [name, p] of params) {
      for (const [prefix, dst] of [['param/', p.data], ['adam.m/', opt.m.get(name)!], ['adam.v/', opt.v.get(name)!]] as const) {
        const key = prefix + name;
        names.add(key);
        const info = f.tensors.get(key);
        if (!info) throw new TritwiseError('E_FORMAT', 'tensor missing from the checkpoint', { where: `${path}: ${key}`, expected: `[${p.shape.join(', ')}]`, got: 'no such tensor' });
        if (info.dtype !== dtypeOf(dst) || info.shape.join(',') !== p.shape.join(',')) throw new TritwiseError('E_FORMAT', 'checkpoint tensor does not match the model', { where: `${path}: ${key}`, expected: `${dtypeOf(dst)} [${p.shape.join(', ')}]`, got: `${info.dtype} [${info.shape.join(', ')}]` });
        const bytes = f.readBytes(key);
        const src = dst instanceof Float64Array ? new Float64Array(bytes.slice().buffer) : new Float32Array(bytes.slice().buffer);
        for (let i = 0; i < src.length; i++) if (!Number.isFinite(src[i]!)) throw new TritwiseError('E_NONFINITE', 'non-finite value in checkpoint', { where: `${path}: ${key}[${i}]`, expected: 'a finite number', got: src[i] });
        pending.push([dst, src]);
      }
    }
    for (const key of f.tensors.keys()) if (!names.has(key)) throw new TritwiseError('E_FORMAT', 'unexpected tensor in the checkpoint', { where: `${path}: ${key}`, expected: 'the trainable tensors of this model', got: key });
    // nothing is changed until every tensor has been read and checked
    for (const [dst, src] of pending) dst.set(src);
    opt.t = meta.adamT as number;
    return { step: meta.step as number, adamT: meta.adamT as number, fingerprint: fp as Record<string, unknown>, history, tokens: meta.tokens as number, elapsed_s: meta.elapsed_s as number, timing: parseTiming(meta.timing) };
  } finally {
    f.close();
  }
}
