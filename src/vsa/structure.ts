/**
 * structure — nested data (records of records of sequences …) in one hypervector, with every
 * level queryable.
 *
 *   atom "x"          → symbol vector of "x" (made once and kept)
 *   sequence [a, b, …] → bundle_i ρ^{i+1}(enc(x_i))        (positions from 1: never equal to a child)
 *   record {r: v, …}   → bundle_r role(r) ⊙ enc(v)         (roles made once and kept)
 *
 * Every composite vector is also stored in one cleanup memory (`items`, beside the atoms). A
 * query walks a path one level at a time: unbind the role (or shift back by i+1), clean up the
 * noisy result against `items` — which snaps it to the exact stored sub-structure — and go on
 * from that clean vector. So noise never accumulates across levels; each level only has to hold
 * its own fields. `decode` rebuilds a whole value the same way, by querying every field.
 */
import { TritwiseError } from '../errors.js';
import { TritVector } from '../tensor/trit-vector.js';
import { Accumulator } from './accumulator.js';
import { ItemMemory, type ItemMemoryOptions } from './item-memory.js';
import { bind, permute, permuteInto } from './ops.js';

export type Structure = string | readonly Structure[] | { readonly [role: string]: Structure };
export type PathStep = string | number;

type Kind = 'atom' | 'sequence' | 'record';

interface Entry {
  kind: Kind;
  /** sequence length or record roles (the shape; values are found by querying) */
  length?: number;
  roles?: string[];
  atom?: string;
}

export interface QueryStep {
  step: PathStep;
  /** the item the noisy vector cleaned up to */
  item: string;
  cosine: number;
}

export interface QueryResult {
  kind: Kind;
  /** the clean vector at the end of the path */
  vector: TritVector;
  /** the atom's name when kind is 'atom' */
  atom?: string;
  steps: QueryStep[];
}

function kindOf(v: Structure): Kind {
  return typeof v === 'string' ? 'atom' : Array.isArray(v) ? 'sequence' : 'record';
}

/** A canonical name for a value (records with sorted roles), so equal values share one item. */
function canonical(v: Structure): string {
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  const rec = v as { readonly [role: string]: Structure };
  return `{${Object.keys(rec).sort().map((k) => `${JSON.stringify(k)}:${canonical(rec[k]!)}`).join(',')}}`;
}

export class StructureMemory {
  readonly dim: number;
  readonly roles: ItemMemory;
  readonly items: ItemMemory;
  #entries = new Map<string, Entry>();

  private constructor(roles: ItemMemory, items: ItemMemory) {
    this.dim = items.dim;
    this.roles = roles;
    this.items = items;
  }

  static async create(dim: number, opts: ItemMemoryOptions = {}): Promise<StructureMemory> {
    const items = await ItemMemory.create(dim, opts);
    const roles = await ItemMemory.create(dim, { ...opts, backend: items.backend, seed: (opts.seed ?? 0) + 7919 });
    return new StructureMemory(roles, items);
  }

  /** Encode a value; every sub-structure is registered in the cleanup memory. */
  encode(value: Structure): TritVector {
    const kind = kindOf(value);
    const name = `${kind}:${canonical(value)}`;
    if (this.items.has(name)) return this.items.vector(name);
    if (kind === 'atom') {
      const v = this.items.symbol(name);
      this.#entries.set(name, { kind, atom: value as string });
      return v;
    }
    const acc = new Accumulator(this.dim);
    const tmp = new TritVector(this.dim);
    let entry: Entry;
    if (kind === 'sequence') {
      const xs = value as readonly Structure[];
      if (xs.length === 0) throw new TritwiseError('E_ARG', 'cannot encode an empty sequence', { where: 'StructureMemory.encode', expected: 'at least one element', got: '[]' });
      xs.forEach((x, i) => acc.add(permuteInto(tmp, this.encode(x), i + 1)));
      entry = { kind, length: xs.length };
    } else {
      const rec = value as { readonly [role: string]: Structure };
      const roles = Object.keys(rec);
      if (roles.length === 0) throw new TritwiseError('E_ARG', 'cannot encode an empty record', { where: 'StructureMemory.encode', expected: 'at least one role', got: '{}' });
      for (const r of roles) acc.addBound(this.roles.symbol(r), this.encode(rec[r]!));
      entry = { kind, roles };
    }
    const v = acc.sign();
    this.items.add(name, v);
    this.#entries.set(name, entry);
    return v;
  }

  /** Follow `path` from `vec` (role names into records, indices into sequences), cleaning up at each level. */
  async query(vec: TritVector, path: readonly PathStep[]): Promise<QueryResult> {
    let cur = vec;
    let entry: Entry | undefined;
    let name = '';
    const steps: QueryStep[] = [];
    if (path.length === 0) {
      const r = await this.items.cleanup(vec);
      name = r.name;
      entry = this.#entries.get(name)!;
      cur = this.items.vector(r.index);
    }
    for (const step of path) {
      if (entry && entry.kind === 'atom') throw new TritwiseError('E_ARG', 'path goes below an atom', { where: 'StructureMemory.query', expected: 'a record or sequence', got: `atom ${entry.atom}` });
      let noisy: TritVector;
      if (typeof step === 'number') {
        if (!Number.isInteger(step) || step < 0) throw new TritwiseError('E_ARG', 'invalid sequence index', { where: 'StructureMemory.query', expected: 'an integer ≥ 0', got: step });
        noisy = permute(cur, -(step + 1));
      } else noisy = bind(cur, this.roles.symbol(step));
      const r = await this.items.cleanup(noisy);
      name = r.name;
      entry = this.#entries.get(name)!;
      steps.push({ step, item: name, cosine: r.cosine });
      cur = this.items.vector(r.index);
    }
    return { kind: entry!.kind, vector: cur, atom: entry!.atom, steps };
  }

  /** Free the backend copies (and the backend, if this memory made it from a name). */
  async dispose(): Promise<void> {
    this.roles.release();
    await this.items.dispose();
  }

  /** Rebuild the whole value stored in `vec` by querying every level. */
  async decode(vec: TritVector, depth = 16): Promise<Structure> {
    const top = await this.query(vec, []);
    return this.#decodeClean(top.vector, depth);
  }

  async #decodeClean(clean: TritVector, depth: number): Promise<Structure> {
    const r = await this.items.cleanup(clean);
    const entry = this.#entries.get(r.name)!;
    if (entry.kind === 'atom') return entry.atom!;
    if (depth <= 0) throw new TritwiseError('E_ARG', 'structure deeper than the decode depth', { where: 'StructureMemory.decode', expected: `≤ ${depth} levels` });
    if (entry.kind === 'sequence') {
      const out: Structure[] = [];
      for (let i = 0; i < entry.length!; i++) out.push(await this.#decodeClean((await this.query(clean, [i])).vector, depth - 1));
      return out;
    }
    const out: Record<string, Structure> = {};
    for (const role of entry.roles!) out[role] = await this.#decodeClean((await this.query(clean, [role])).vector, depth - 1);
    return out;
  }
}
