/**
 * attention-accuracy — how close the fast attention modes come to exact attention inside a real
 * forward pass. A probe AttentionFn sits in every layer: it writes the exact (float64) output, so
 * the model runs exactly, and on the same inputs it also runs every mode under test and records
 *
 *   cosine     cos(out_mode, out_exact) per query head and token (mean and minimum);
 *   recall@k   |top-k by popcount ∩ top-k by exact scores| / k per query head, over calls with
 *              more than k attended keys (ties in the exact scores broken by position), for
 *              one-trit (depth 1) and two-trit residual (depth 2) Q/K.
 */
import type { AttentionShape, Backend } from '../backend/backend.js';
import type { LlamaConfig } from '../nn/llama-config.js';
import type { StoredTensor } from '../io/weights-file.js';
import { parseAttentionMode, referenceAttention } from '../nn/attention-modes.js';
import { Model } from '../nn/model.js';
import type { AttentionFn } from '../nn/attention.js';
import { exact64, windowStart } from '../nn/attention-reference.js';
import { TernaryKeyTables, ternaryScores, topKIndices } from '../nn/attention-ternary.js';
import { quantizeDepth, tritWords } from '../nn/attention-trits.js';

export interface ModeAccuracy {
  name: string;
  cosine_mean: number;
  cosine_min: number;
  vectors: number;
}

export interface RecallAccuracy {
  k: number;
  /** trit depth of the popcount scores */
  depth: number;
  recall_mean: number;
  samples: number;
}

export class AttentionProbe {
  readonly #modes: { name: string; fns: AttentionFn[]; sum: number; min: number; n: number }[];
  readonly #recall: { k: number; depth: number; sum: number; n: number }[];
  readonly #tables = [new TernaryKeyTables(1), new TernaryKeyTables(2)];

  constructor(modes: { name: string; make: () => AttentionFn }[], recallK: number[], layers: number) {
    this.#modes = modes.map((m) => ({ name: m.name, fns: Array.from({ length: layers }, () => m.make()), sum: 0, min: Infinity, n: 0 }));
    this.#recall = [1, 2].flatMap((depth) => recallK.map((k) => ({ k, depth, sum: 0, n: 0 })));
  }

  /** The probe of layer l (give it to LlamaModel.build as the attention hook). */
  layer(l: number): AttentionFn {
    return (q, qOff, keys, values, pos, s, out, outOff) => {
      const d = s.headDim;
      const ref = exact64(q, qOff, keys, values, pos, s);
      for (let i = 0; i < ref.length; i++) out[outOff + i] = ref[i]!;
      const tmp = new Float32Array(ref.length);
      for (const m of this.#modes) {
        m.fns[l]!(q, qOff, keys, values, pos, s, tmp, 0);
        for (let h = 0; h < s.nHeads; h++) {
          let ab = 0, aa = 0, bb = 0;
          for (let i = h * d; i < (h + 1) * d; i++) {
            ab += tmp[i]! * ref[i]!;
            aa += tmp[i]! * tmp[i]!;
            bb += ref[i]! * ref[i]!;
          }
          const c = aa === 0 && bb === 0 ? 1 : ab / Math.sqrt(aa * bb);
          m.sum += c;
          m.min = Math.min(m.min, c);
          m.n++;
        }
      }
      if (this.#recall.length) this.#recallAt(q, qOff, keys, pos, s);
    };
  }

  #recallAt(q: Float32Array, qOff: number, keys: Float32Array, pos: number, s: AttentionShape): void {
    const d = s.headDim;
    const kvDim = s.nKvHeads * d;
    const group = s.nHeads / s.nKvHeads;
    const rows = this.#tables.map((t) => t.get(keys, pos, s));
    const start = windowStart(pos, s);
    const n = pos - start + 1;
    const exact = new Float64Array(n);
    const tern = [new Float64Array(n), new Float64Array(n)];
    const qp = new Uint32Array(4 * tritWords(d));
    const qs = new Float32Array(2);
    const kmax = Math.max(...this.#recall.map((r) => r.k));
    const ia = new Int32Array(kmax);
    const ib = new Int32Array(kmax);
    for (let h = 0; h < s.nHeads; h++) {
      const g = Math.floor(h / group);
      const qo = qOff + h * d;
      for (const D of [1, 2]) {
        quantizeDepth(q, qo, d, D, qp, 0, qs, 0);
        ternaryScores(qp, qs, rows[D - 1]!, g, start, n, tern[D - 1]!);
      }
      for (let j = 0; j < n; j++) {
        const kb = (start + j) * kvDim + g * d;
        let dot = 0;
        for (let i = 0; i < d; i++) dot += q[qo + i]! * keys[kb + i]!;
        exact[j] = dot;
      }
      for (const r of this.#recall) {
        if (n <= r.k) continue;
        topKIndices(exact, n, r.k, ia);
        topKIndices(tern[r.depth - 1]!, n, r.k, ib);
        const set = new Set(ia.subarray(0, r.k));
        let hit = 0;
        for (let t = 0; t < r.k; t++) if (set.has(ib[t]!)) hit++;
        r.sum += hit / r.k;
        r.n++;
      }
    }
  }

  get modes(): ModeAccuracy[] {
    return this.#modes.map((m) => ({ name: m.name, cosine_mean: m.sum / m.n, cosine_min: m.min, vectors: m.n }));
  }

  get recall(): RecallAccuracy[] {
    return this.#recall.map((r) => ({ k: r.k, depth: r.depth, recall_mean: r.sum / r.n, samples: r.n }));
  }
}

export interface AccuracyReport {
  model: string;
  sequences: number;
  tokens: number;
  modes: ModeAccuracy[];
  recall: RecallAccuracy[];
}

/**
 * Run token sequences through a model (from an empty cache each) with the probe in every layer;
 * modes are reference implementations (nn/attention-modes.ts names), recall at each k.
 */
export async function measureAttentionAccuracy(
  label: string,
  ck: { config: LlamaConfig; weights: Map<string, StoredTensor> },
  sequences: number[][],
  o: { modes: string[]; recallK: number[]; backend: Backend; onStep?: (s: string) => void },
): Promise<AccuracyReport> {
  const probe = new AttentionProbe(
    o.modes.map((name) => ({ name, make: () => referenceAttention(parseAttentionMode(name)) })),
    o.recallK,
    ck.config.nLayers,
  );
  const m = await Model.fromCheckpoint({ ...ck, activations: new Map() }, { backend: o.backend, attention: (l) => probe.layer(l) });
  let tokens = 0;
  try {
    for (const [i, ids] of sequences.entries()) {
      const cache = m.newCache();
      try {
        await m.forward([{ tokens: ids, cache }]);
      } finally {
        cache.dispose();
      }
      tokens += ids.length;
      o.onStep?.(`${label}: sequence ${i + 1}/${sequences.length} (${ids.length} tokens)`);
    }
  } finally {
    await m.dispose();
  }
  return { model: label, sequences: sequences.length, tokens, modes: probe.modes, recall: probe.recall };
}
