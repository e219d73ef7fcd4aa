/**
 * interleaved-rounds — side-by-side timing of several cases in one process, robust to load from
 * other processes (`tritwise bench sparsity` uses it for every layout and the dense baseline).
 *
 * The cases run in R rounds. In round r they run in rotated order (case (r + j) mod n at position
 * j), so each case follows a different case from round to round and no case is always the one
 * that runs after the dense baseline has flushed the caches. In every round each case first runs
 * `warmup` untimed calls (the same count for every case, the baseline included: the calls that
 * bring its own data back into cache and wake the pool's worker), then timed calls until it has
 * spent minTimeMs / R (at least `minCalls` calls). A round gives each case one median; a case's
 * figure is the median of its R round medians, with the quartiles of the round medians as its
 * spread. A burst of load that hits a round moves that round's median, not the result.
 *
 *   round median  m_r = median(calls of the case in round r)
 *   result        median_r(m_r),  spread [q1_r(m_r), q3_r(m_r)]
 *
 * Every call is a whole call of the case, as a user makes it (staging, hand-off and copies
 * included); only the warm-up calls are not timed.
 */
import { median } from './benchmark.js';

export interface TimedCase {
  run: () => unknown;
}

export interface RoundsOptions {
  /** rounds (default 9) */
  rounds?: number;
  /** total timed ms per case, spread over the rounds (default 300) */
  minTimeMs?: number;
  /** untimed calls per case at the start of each round (default 3) */
  warmup?: number;
  /** timed calls per case and round, at least (default 3) */
  minCalls?: number;
  /** timed calls per case and round, at most (default 2000) */
  maxCalls?: number;
  /** clock (tests); default performance.now */
  now?: () => number;
  /** called after a case's warm-up calls and after its timed calls in each round (e.g. to read pool counters) */
  onTimed?: (caseIndex: number, phase: 'start' | 'end') => void;
}

export interface RoundsTiming {
  /** median of the round medians, ms */
  median_ms: number;
  /** first and third quartile of the round medians, ms */
  q1_ms: number;
  q3_ms: number;
  /** every round's median, in round order */
  round_ms: number[];
  /** timed calls over all rounds */
  calls: number;
}

/** The q-quantile of xs (linear interpolation between order statistics). */
export function quantile(xs: number[], q: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const at = (s.length - 1) * q, lo = Math.floor(at), hi = Math.ceil(at);
  return s[lo]! + (s[hi]! - s[lo]!) * (at - lo);
}

/** Time `cases` in interleaved, rotated rounds (see the header); one RoundsTiming per case. */
export async function timeInRounds(cases: readonly TimedCase[], o: RoundsOptions = {}): Promise<RoundsTiming[]> {
  const R = o.rounds ?? 9, warmup = o.warmup ?? 3, minCalls = o.minCalls ?? 3, maxCalls = o.maxCalls ?? 2000;
  const budget = (o.minTimeMs ?? 300) / R;
  const now = o.now ?? (() => performance.now());
  const n = cases.length;
  const rounds = cases.map(() => [] as number[]);
  const calls = cases.map(() => 0);
  for (let r = 0; r < R; r++) {
    for (let j = 0; j < n; j++) {
      const i = (r + j) % n;
      const c = cases[i]!;
      for (let k = 0; k < warmup; k++) await c.run();
      o.onTimed?.(i, 'start');
      const ts: number[] = [];
      let spent = 0;
      while (ts.length < minCalls || (spent < budget && ts.length < maxCalls)) {
        const t0 = now();
        await c.run();
        const dt = now() - t0;
        ts.push(dt);
        spent += dt;
      }
      rounds[i]!.push(median(ts));
      calls[i]! += ts.length;
      o.onTimed?.(i, 'end');
    }
  }
  return rounds.map((m, i) => ({ median_ms: median(m), q1_ms: quantile(m, 0.25), q3_ms: quantile(m, 0.75), round_ms: m, calls: calls[i]! }));
}
