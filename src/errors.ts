/**
 * errors — the one error class of tritwise.
 *
 * Every failure a user can cause (bad shapes, NaN weights, corrupt files, unknown dtypes, …) is
 * thrown as a `TritwiseError` with a stable machine-readable `code` and a message of the form
 *   "<what> (<where>): expected <expected>, got <got>"
 * so that a caller can branch on `code` and a human can act on the message.
 */

export type ErrorCode =
  | 'E_ARG' // a bad argument value (negative size, unknown option, …)
  | 'E_SHAPE' // shapes/lengths that do not agree
  | 'E_NONFINITE' // NaN or ±Inf where finite numbers are required
  | 'E_NOT_TERNARY' // dense values that are not exactly {-s, 0, +s} per row
  | 'E_INVARIANT' // a TernaryTensor invariant is broken (plus&minus≠0, dirty padding, …)
  | 'E_FORMAT' // a file that does not follow its format (bad header, bad JSON, …)
  | 'E_TRUNCATED' // a file shorter than its header says
  | 'E_DTYPE' // an unknown or unsupported element type
  | 'E_IO' // the file system said no
  | 'E_UNSUPPORTED' // a valid request we do not implement
  | 'E_CONFIG' // a model config that does not match the weights
  | 'E_VOCAB' // tokenizer and model disagree
  | 'E_WORKER' // a worker thread failed or died
  | 'E_BACKEND'; // a backend could not be created or used

export interface ErrorDetails {
  /** The file, tensor, argument or layer concerned. */
  where?: string;
  expected?: unknown;
  got?: unknown;
  cause?: unknown;
}

function show(v: unknown): string {
  if (typeof v === 'string') return v;
  if (Array.isArray(v)) return `[${v.join(', ')}]`;
  if (typeof v === 'bigint' || typeof v === 'number') return String(v);
  try {
    return JSON.stringify(v) ?? String(v);
  } catch {
    return String(v);
  }
}

export class TritwiseError extends Error {
  override readonly name = 'TritwiseError';
  readonly code: ErrorCode;
  readonly where?: string;
  readonly expected?: unknown;
  readonly got?: unknown;

  constructor(code: ErrorCode, what: string, details: ErrorDetails = {}) {
    let msg = what;
    if (details.where !== undefined) msg += ` (${details.where})`;
    const parts: string[] = [];
    if (details.expected !== undefined) parts.push(`expected ${show(details.expected)}`);
    if (details.got !== undefined) parts.push(`got ${show(details.got)}`);
    if (parts.length) msg += `: ${parts.join(', ')}`;
    super(msg, details.cause !== undefined ? { cause: details.cause } : undefined);
    this.code = code;
    this.where = details.where;
    this.expected = details.expected;
    this.got = details.got;
  }
}

/** Throw an E_ARG error unless `ok`. */
export function check(ok: boolean, code: ErrorCode, what: string, details?: ErrorDetails): asserts ok {
  if (!ok) throw new TritwiseError(code, what, details);
}

/** A non-negative safe integer, or an E_ARG error naming `where`. */
export function checkSize(n: number, where: string): number {
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new TritwiseError('E_ARG', 'invalid size', { where, expected: 'a non-negative integer', got: n });
  }
  return n;
}

/** Index of the first non-finite value, or -1. */
export function firstNonFinite(a: ArrayLike<number>): number {
  for (let i = 0; i < a.length; i++) if (!Number.isFinite(a[i])) return i;
  return -1;
}
