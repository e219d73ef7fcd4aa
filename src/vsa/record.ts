/**
 * record — role-filler records (torchhd's hash_table):
 *
 *   record = bundle_i bind(role_i, filler_i)       (integer sum, then majority sign)
 *   field(record, role) = unbind(record, role) ≈ filler + noise
 *
 * Unbinding by role_i turns its own pair into filler_i and every other pair into an unrelated
 * vector, so cleanup against the filler memory finds filler_i while the record holds up to
 * ~D/(2 ln M) fields. Roles are hypervectors made once and kept: `RecordCodec` takes them from
 * an ItemMemory by name (`roles.symbol(name)`), so the same role always has the same vector.
 */
import { TritwiseError } from '../errors.js';
import type { TritVector } from '../tensor/trit-vector.js';
import { Accumulator, type BundleOptions } from './accumulator.js';
import { checkSameDim } from './hypervector.js';
import type { CleanupResult, ItemMemory } from './item-memory.js';
import { bind, unbind } from './ops.js';

/** The exact sum Σ_i role_i ⊙ filler_i. */
export function recordSum(roles: readonly TritVector[], fillers: readonly TritVector[]): Accumulator {
  if (roles.length !== fillers.length || roles.length === 0) {
    throw new TritwiseError('E_SHAPE', 'a record needs one filler per role, at least one', { where: 'record', expected: `${roles.length} fillers`, got: fillers.length });
  }
  checkSameDim('record', ...roles, ...fillers);
  const acc = new Accumulator(roles[0]!.length);
  roles.forEach((r, i) => acc.addBound(r, fillers[i]!));
  return acc;
}

/** record = threshold(Σ_i role_i ⊙ filler_i). */
export function record(roles: readonly TritVector[], fillers: readonly TritVector[], opts: BundleOptions = {}): TritVector {
  return recordSum(roles, fillers).threshold(opts.threshold ?? 0, opts.ties);
}

/** The noisy filler of `role`: unbind(record, role). */
export function field(rec: TritVector, role: TritVector): TritVector {
  return unbind(rec, role);
}

/** Records over named roles and named fillers, with cleanup. */
export class RecordCodec {
  constructor(
    readonly roles: ItemMemory,
    readonly fillers: ItemMemory,
  ) {
    if (roles.dim !== fillers.dim) throw new TritwiseError('E_SHAPE', 'role and filler memories differ in dimension', { where: 'RecordCodec', expected: roles.dim, got: fillers.dim });
  }

  /** Encode {role: filler} (filler names are made into vectors on first use). */
  encode(obj: Readonly<Record<string, string>>): TritVector {
    const names = Object.keys(obj);
    return record(
      names.map((r) => this.roles.symbol(r)),
      names.map((r) => this.fillers.symbol(obj[r]!)),
    );
  }

  /** The filler of one role, cleaned up. */
  async get(rec: TritVector, role: string): Promise<CleanupResult> {
    return this.fillers.cleanup(bind(rec, this.roles.symbol(role)));
  }

  /** The fillers of several roles, in one batched cleanup. */
  async decode(rec: TritVector, roles: readonly string[]): Promise<Record<string, string>> {
    const res = await this.fillers.cleanupBatch(roles.map((r) => bind(rec, this.roles.symbol(r))));
    return Object.fromEntries(roles.map((r, i) => [r, res[i]!.name]));
  }
}
