/**
 * sentencepiece — the SentencePiece-BPE vocabulary used by Llama 1/2 (llama2.c `tokenizer.bin`
 * and the `llama` tokenizer embedded in GGUF), with llama2.c `run.c`'s encoding:
 *
 *   1. BOS first (optional); a dummy-prefix space when the text is non-empty;
 *   2. every UTF-8 code point becomes its token, or its bytes as `<0xHH>` byte tokens;
 *   3. repeatedly merge the adjacent pair whose concatenation is a token with the highest score
 *      (the leftmost pair wins ties).
 * Step 3 uses a max-heap over candidate pairs with lazy invalidation, O(n log n) instead of
 * run.c's O(n²) rescans, with the same result (always the global best, leftmost on ties).
 * Pieces are stored with the SentencePiece `▁` already turned into a space.
 */
import { TritwiseError } from '../../errors.js';
import type { EncodeOptions, Tokenizer } from './tokenizer.js';

/** GGUF / SentencePiece token types. */
export const TokenType = { normal: 1, unknown: 2, control: 3, userDefined: 4, unused: 5, byte: 6 } as const;

export interface SentencePieceVocab {
  pieces: string[];
  scores: Float32Array;
  /** TokenType per id (inferred when absent: 0..2 control/unknown, `<0xHH>` byte tokens) */
  types?: Int32Array;
  bos?: number;
  eos?: number;
  unk?: number;
  addSpacePrefix?: boolean;
}

interface Sym {
  id: number;
  text: string;
  pos: number;
  prev: Sym | null;
  next: Sym | null;
  version: number;
  alive: boolean;
}

interface Cand {
  score: number;
  pos: number;
  left: Sym;
  right: Sym;
  lv: number;
  rv: number;
  id: number;
}

/** A binary max-heap ordered by (score desc, pos asc). */
class PairHeap {
  a: Cand[] = [];
  #better(x: Cand, y: Cand): boolean {
    return x.score > y.score || (x.score === y.score && x.pos < y.pos);
  }
  push(c: Cand): void {
    const a = this.a;
    a.push(c);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#better(a[i]!, a[p]!)) break;
      [a[i], a[p]] = [a[p]!, a[i]!];
      i = p;
    }
  }
  pop(): Cand | undefined {
    const a = this.a;
    const top = a[0];
    const last = a.pop();
    if (a.length && last) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1,
          r = l + 1;
        let m = i;
        if (l < a.length && this.#better(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.#better(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[i], a[m]] = [a[m]!, a[i]!];
        i = m;
      }
    }
    return top;
  }
}

export class SentencePieceTokenizer implements Tokenizer {
  readonly kind = 'spm';
  readonly pieces: string[];
  readonly scores: Float32Array;
  readonly types: Int32Array;
  readonly bos: number;
  readonly eos: number;
  readonly unk: number;
  readonly addSpacePrefix: boolean;
  /** piece → id (the first id of duplicated pieces, as run.c's sorted lookup would find one) */
  readonly #index = new Map<string, number>();
  /** byte value → id of its `<0xHH>` token, or -1 */
  readonly #byteIds = new Int32Array(256).fill(-1);

  constructor(v: SentencePieceVocab, where = 'tokenizer') {
    const n = v.pieces.length;
    if (n === 0) throw new TritwiseError('E_FORMAT', 'empty vocabulary', { where, expected: '≥ 1 token', got: 0 });
    if (v.scores.length !== n) throw new TritwiseError('E_FORMAT', 'scores do not match the vocabulary', { where, expected: n, got: v.scores.length });
    if (v.types && v.types.length !== n) throw new TritwiseError('E_FORMAT', 'token types do not match the vocabulary', { where, expected: n, got: v.types.length });
    this.pieces = v.pieces;
    this.scores = v.scores;
    this.bos = v.bos ?? 1;
    this.eos = v.eos ?? 2;
    this.unk = v.unk ?? 0;
    for (const [k, id] of [['bos', this.bos], ['eos', this.eos], ['unk', this.unk]] as const) {
      if (!(Number.isInteger(id) && id >= 0 && id < n)) throw new TritwiseError('E_FORMAT', `${k} id outside the vocabulary`, { where, expected: `0..${n - 1}`, got: id });
    }
    this.addSpacePrefix = v.addSpacePrefix ?? true;
    this.types = v.types ?? this.#inferTypes();
    for (let i = 0; i < n; i++) {
      const p = this.pieces[i]!;
      if (this.types[i] === TokenType.byte) {
        const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(p);
        if (m) this.#byteIds[parseInt(m[1]!, 16)] = i;
        continue;
      }
      if (this.types[i] === TokenType.control || this.types[i] === TokenType.unused) continue;
      if (!this.#index.has(p)) this.#index.set(p, i);
    }
  }

  #inferTypes(): Int32Array {
    const t = new Int32Array(this.pieces.length).fill(TokenType.normal);
    this.pieces.forEach((p, i) => {
      if (i === this.unk) t[i] = TokenType.unknown;
      else if (i === this.bos || i === this.eos) t[i] = TokenType.control;
      else if (/^<0x[0-9A-Fa-f]{2}>$/.test(p)) t[i] = TokenType.byte;
    });
    return t;
  }

  get vocabSize(): number {
    return this.pieces.length;
  }

  /** Id of a piece, or -1. */
  lookup(piece: string): number {
    return this.#index.get(piece) ?? -1;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    const out: number[] = [];
    if (opts.bos ?? true) out.push(this.bos);
    if (text.length === 0) return out;
    const s = this.addSpacePrefix ? ' ' + text : text;
    // 2. code points → tokens (or byte tokens)
    let head: Sym | null = null;
    let tail: Sym | null = null;
    let pos = 0;
    const add = (id: number, t: string) => {
      const sym: Sym = { id, text: t, pos: pos++, prev: tail, next: null, version: 0, alive: true };
      if (tail) tail.next = sym;
      else head = sym;
      tail = sym;
    };
    const enc = new TextEncoder();
    for (const cp of s) {
      const id = this.lookup(cp);
      if (id >= 0) {
        add(id, cp);
        continue;
      }
      for (const b of enc.encode(cp)) {
        const bid = this.#byteIds[b]!;
        add(bid >= 0 ? bid : this.unk, bid >= 0 ? this.pieces[bid]! : this.pieces[this.unk]!);
      }
    }
    // 3. merge the best pair until none is in the vocabulary
    const heap = new PairHeap();
    const consider = (l: Sym | null, r: Sym | null) => {
      if (!l || !r) return;
      const id = this.lookup(l.text + r.text);
      if (id >= 0) heap.push({ score: this.scores[id]!, pos: l.pos, left: l, right: r, lv: l.version, rv: r.version, id });
    };
    for (let p: Sym | null = head; p; p = (p as Sym).next) consider(p, (p as Sym).next);
    for (let c = heap.pop(); c; c = heap.pop()) {
      const { left, right } = c;
      if (!left.alive || !right.alive || left.next !== right || left.version !== c.lv || right.version !== c.rv) continue;
      left.id = c.id;
      left.text = left.text + right.text;
      left.version++;
      left.next = right.next;
      if (right.next) right.next.prev = left;
      right.alive = false;
      consider(left.prev, left);
      consider(left, left.next);
    }
    for (let p: Sym | null = head; p; p = (p as Sym).next) out.push((p as Sym).id);
    return out;
  }

  /** Bytes of one token in context (the leading space of the first piece, or after BOS, is dropped). */
  tokenBytes(id: number, prev: number): Uint8Array {
    if (!(Number.isInteger(id) && id >= 0 && id < this.pieces.length)) throw new TritwiseError('E_ARG', 'token id outside the vocabulary', { where: 'decode', expected: `0..${this.pieces.length - 1}`, got: id });
    const t = this.types[id];
    if (t === TokenType.control) return new Uint8Array(0);
    if (t === TokenType.byte) {
      const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(this.pieces[id]!);
      if (m) return Uint8Array.of(parseInt(m[1]!, 16));
    }
    let p = this.pieces[id]!;
    if ((prev < 0 || prev === this.bos) && p.startsWith(' ')) p = p.slice(1);
    return new TextEncoder().encode(p);
  }

  decode(ids: readonly number[]): string {
    const parts: Uint8Array[] = [];
    let prev = -1;
    for (const id of ids) {
      parts.push(this.tokenBytes(id, prev));
      prev = id;
    }
    const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) {
      all.set(p, o);
      o += p.length;
    }
    return new TextDecoder().decode(all);
  }
}
