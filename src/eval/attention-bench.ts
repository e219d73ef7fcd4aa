/**
 * attention-bench — WASM SIMD attention kernels side by side, one thread, in one run:
 *
 *   f32-scores        Q·Kᵀ in f32 (every query head against every key; kernels/attention-flash.ts)
 *   popcount-scores   the same scores from ternary Q/K by popcount (query quantization included;
 *                     the keys' trits are what a ternary K cache holds, made before timing)
 *   flash-f32         flash-style attention, f32 (the baseline of the attention modes)
 *   ternary           attention on popcount scores, exact softmax, f32 V
 *   topk:K…           top-k hybrids (popcount picks K keys per head, exact f32 over them), by
 *                     mode name: topk:32 and topk:32/t2/r8 (two-trit Q/K, 8 recent keys kept)
 *
 * Phases: decode = one query (the last position) against a cache of `seq` keys; prefill = all
 * `seq` queries of a sequence, each causal over the keys before it, with the keys quantized to
 * trits inside the timing (ternary modes). Batch b = b sequences with their own caches (prefill: batch 1 by default, as it is O(seq²)). Keys,
 * values and queries are seeded uniform random numbers in [−1, 1); nKvHeads = heads (no GQA);
 * K/V head-major (see Case).
 * Ratios compare medians of the same run: popcount-scores vs f32-scores, the attention modes
 * vs flash-f32. Long cases (a first run over `longMs`) are timed once.
 */
import type { WasmBackend } from '../backend/wasm/wasm-backend.js';
import type { AttentionKernels } from '../nn/attention-wasm.js';
import { parseAttentionMode } from '../nn/attention-modes.js';
import { tritWords } from '../nn/attention-trits.js';
import { machineInfo, measure, type MachineInfo } from './benchmark.js';
import { loadavg } from 'node:os';

export type AttentionBenchPhase = 'decode' | 'prefill';

export interface AttentionBenchOptions {
  seqs?: number[];
  headDims?: number[];
  batches?: number[];
  /** batch sizes of prefill (default [1]: prefill is O(seq²)) */
  prefillBatches?: number[];
  heads?: number;
  phases?: AttentionBenchPhase[];
  /** top-k hybrid modes (nn/attention-modes.ts names; default topk:32 and topk:32/t2/r8) */
  hybrids?: string[];
  /** a first run longer than this is reported alone (default 400 ms) */
  longMs?: number;
  minTimeMs?: number;
  onStep?: (s: string) => void;
}

export interface AttentionBenchResult {
  name: string;
  seq: number;
  heads: number;
  head_dim: number;
  batch: number;
  mode: AttentionBenchPhase;
  median_ms: number;
  runs: number;
  /** popcount-scores: f32-scores median / this median */
  speedup_vs_f32_scores?: number;
  /** ternary, topk:K: flash-f32 median / this median */
  speedup_vs_flash?: number;
}

export interface AttentionBenchReport {
  machine: MachineInfo;
  threads: 1;
  note: string;
  results: AttentionBenchResult[];
  /** ternary K cache bytes against f32 per head dim: (2·⌈d/32⌉·4 + 4) / (4·d) */
  k_cache_bytes: { head_dim: number; ternary_bytes_per_vector: number; f32_bytes_per_vector: number; fraction: number }[];
}

/**
 * One batch of sequences in wasm memory: queries [position][head][d]; keys, values and the keys'
 * trits head-major ([head][position][d]), so every kernel streams one head's rows contiguously
 * (a position-major cache puts a head's rows heads·d·4 bytes apart, 4 KiB at 16×64, which
 * defeats the caches and the TLB for every kernel alike).
 */
class Case {
  readonly ptrs: number[] = [];
  q: number[] = [];
  k: number[] = [];
  v: number[] = [];
  /** per depth (1, 2): per sequence, the keys' records and scales */
  kp: number[][] = [[], [], []];
  ks: number[][] = [[], [], []];
  readonly W: number;
  readonly tmp: number;
  constructor(
    readonly be: WasmBackend,
    readonly seq: number,
    readonly H: number,
    readonly d: number,
    readonly batch: number,
    seed: number,
    readonly depths: number[],
  ) {
    this.W = tritWords(d);
    let x = seed >>> 0 || 1;
    const f32 = (n: number) => {
      const a = be.allocF32(n);
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        a[i] = (x >>> 0) / 2147483648 - 1;
      }
      this.ptrs.push(a.byteOffset);
      return a.byteOffset;
    };
    const raw = (bytes: number) => {
      const p = be.heap.alloc(Math.ceil(bytes / 64) * 64, 'attention bench');
      this.ptrs.push(p);
      return p;
    };
    for (let b = 0; b < batch; b++) {
      this.q.push(f32(seq * H * d));
      this.k.push(f32(seq * H * d));
      this.v.push(f32(seq * H * d));
      for (const D of depths) {
        this.kp[D]!.push(raw(H * seq * D * 2 * this.W * 4));
        this.ks[D]!.push(raw(H * seq * D * 4));
      }
    }
    this.tmp = raw(d * 4);
    for (let b = 0; b < batch; b++) for (const D of depths) this.quantizeKeys(b, D);
  }
  /** Trits (depth D) of every key, head-major like the f32 keys ([head][position][d]). */
  quantizeKeys(b: number, D: number): void {
    const K = this.be.kernels as unknown as AttentionKernels;
    const { seq, H, d, W } = this;
    K.quantTrits(this.k[b]!, H * seq, d, d, this.kp[D]![b]!, D * 2 * W, this.ks[D]![b]!, D, this.tmp);
  }
  free(): void {
    for (const p of this.ptrs) this.be.heap.free(p);
  }
}

export async function benchAttention(be: WasmBackend, o: AttentionBenchOptions = {}): Promise<AttentionBenchReport> {
  const seqs = o.seqs ?? [512, 1024, 2048, 4096];
  const dims = o.headDims ?? [64, 128];
  const batches = o.batches ?? [1, 8];
  const prefillBatches = o.prefillBatches ?? [1];
  const H = o.heads ?? 16;
  const phases = o.phases ?? ['decode', 'prefill'];
  const hybrids = (o.hybrids ?? ['topk:32', 'topk:32/t2/r8']).map((n) => ({ name: n, m: parseAttentionMode(n, 'bench attention --hybrid') }));
  const depths = [...new Set([1, ...hybrids.map((h) => (h.m.kind === 'topk' ? h.m.depth ?? 1 : 1))])];
  const longMs = o.longMs ?? 400;
  const K = be.kernels as unknown as AttentionKernels;
  const results: AttentionBenchResult[] = [];
  const maxSeq = Math.max(...seqs);
  const maxD = Math.max(...dims);
  const scratch = be.heap.alloc(Math.ceil((H * maxSeq * 4 + maxSeq * 12 + 4096) / 64) * 64, 'attention bench scratch'); // scores of all heads, or top-k's 3n
  const out = be.heap.alloc(H * maxD * 4 * 2, 'attention bench output');
  const qtr = be.heap.alloc(H * 2 * (2 * tritWords(maxD) * 4 + 4), 'attention bench query trits');
  try {
    for (const d of dims)
      for (const seq of seqs)
        for (const batch of [...new Set([...(phases.includes('decode') ? batches : []), ...(phases.includes('prefill') ? prefillBatches : [])])].sort((a, b) => a - b)) {
          const c = new Case(be, seq, H, d, batch, seq * 131 + d * 7 + batch, depths);
          const W = c.W;
          const qs = qtr + H * 2 * 2 * W * 4;
          // one query at position p of sequence b (q row p), keys [0, p]; every kernel is called
          // per head on that head's contiguous keys/values (head-major, stride d)
          const hk = (b: number, h: number) => c.k[b]! + h * seq * d * 4;
          const hv = (b: number, h: number) => c.v[b]! + h * seq * d * 4;
          const hq = (b: number, p: number, h: number) => c.q[b]! + (p * H + h) * d * 4;
          const quantQ = (b: number, p: number, D = 1) => K.quantTrits(hq(b, p, 0), H, d, d, qtr, D * 2 * W, qs, D, c.tmp);
          const kp = (b: number, h: number, D = 1) => c.kp[D]![b]! + h * seq * D * 2 * W * 4;
          const ks = (b: number, h: number, D = 1) => c.ks[D]![b]! + h * seq * D * 4;
          const kernels: Record<string, { depth: number; fn: (b: number, p: number) => void }> = {
            'f32-scores': {
              depth: 0,
              fn: (b, p) => {
                for (let h = 0; h < H; h++) K.scoresF32(hq(b, p, h), hk(b, h), p + 1, 1, 1, d, scratch + h * (p + 1) * 4);
              },
            },
            'popcount-scores': {
              depth: 1,
              fn: (b, p) => {
                quantQ(b, p);
                for (let h = 0; h < H; h++) K.ternaryScores(qtr + h * 2 * W * 4, qs + h * 4, kp(b, h), ks(b, h), seq, 0, p + 1, 1, 1, d, 1, scratch + h * (p + 1) * 4);
              },
            },
            'flash-f32': {
              depth: 0,
              fn: (b, p) => {
                for (let h = 0; h < H; h++) K.flashF32(hq(b, p, h), hk(b, h), hv(b, h), p + 1, 1, 1, d, out + h * d * 4, scratch);
              },
            },
            ternary: {
              depth: 1,
              fn: (b, p) => {
                quantQ(b, p);
                for (let h = 0; h < H; h++) K.ternaryAttn(qtr + h * 2 * W * 4, qs + h * 4, kp(b, h), ks(b, h), seq, 0, p + 1, hv(b, h), 1, 1, d, 1, out + h * d * 4, scratch);
              },
            },
          };
          for (const { name, m } of hybrids) {
            if (m.kind !== 'topk') continue;
            const D = m.depth ?? 1;
            kernels[name] = {
              depth: D,
              fn: (b, p) => {
                quantQ(b, p, D);
                for (let h = 0; h < H; h++) K.topkAttn(hq(b, p, h), qtr + h * D * 2 * W * 4, qs + h * D * 4, kp(b, h, D), ks(b, h, D), seq, 0, p + 1, hk(b, h), hv(b, h), 1, 1, d, D, m.k ?? 32, m.threshold ?? -1, m.recent ?? 0, out + h * d * 4, scratch);
              },
            };
          }
          for (const phase of phases) {
            if (!(phase === 'decode' ? batches : prefillBatches).includes(batch)) continue;
            const row: AttentionBenchResult[] = [];
            for (const [name, { depth, fn }] of Object.entries(kernels)) {
              const run =
                phase === 'decode'
                  ? () => {
                      for (let b = 0; b < batch; b++) fn(b, seq - 1);
                    }
                  : () => {
                      for (let b = 0; b < batch; b++) {
                        if (depth) c.quantizeKeys(b, depth);
                        for (let p = 0; p < seq; p++) fn(b, p);
                      }
                    };
              const t0 = performance.now();
              run();
              const first = performance.now() - t0;
              const t = first > longMs ? { median_ms: first, runs: 1 } : await measure(run, { warmup: 1, minRuns: 5, minTimeMs: o.minTimeMs ?? 200 });
              row.push({ name, seq, heads: H, head_dim: d, batch, mode: phase, median_ms: t.median_ms, runs: t.runs });
              o.onStep?.(`${phase} seq ${seq} d ${d} batch ${batch} ${name}: ${t.median_ms.toFixed(3)} ms`);
            }
            const med = (n: string) => row.find((r) => r.name === n)!.median_ms;
            for (const r of row) {
              if (r.name === 'popcount-scores') r.speedup_vs_f32_scores = med('f32-scores') / r.median_ms;
              if (r.name === 'ternary' || r.name.startsWith('topk')) r.speedup_vs_flash = med('flash-f32') / r.median_ms;
            }
            results.push(...row);
          }
          c.free();
        }
  } finally {
    be.heap.free(scratch);
    be.heap.free(out);
    be.heap.free(qtr);
  }
  return {
    machine: machineInfo({ backend: be.describe(), loadavg_1m_at_end: loadavg()[0] }),
    threads: 1,
    note: 'single-thread WASM SIMD kernels; 16 query heads = 16 kv heads; decode excludes quantizing the cache keys (a ternary K cache holds them), prefill includes it; other processes shared the cores (see machine.loadavg_1m_at_end)',
    results,
    k_cache_bytes: dims.map((d) => {
      const t = 2 * tritWords(d) * 4 + 4;
      return { head_dim: d, ternary_bytes_per_vector: t, f32_bytes_per_vector: 4 * d, fraction: t / (4 * d) };
    }),
  };
}
