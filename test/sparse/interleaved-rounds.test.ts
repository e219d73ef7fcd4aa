/**
 * The interleaved round timer behind `tritwise bench sparsity` (src/eval/interleaved-rounds.ts):
 * rotated case order, the same untimed warm-up for every case, and a figure that is the median of
 * the round medians (slow warm-up calls and one slow round do not move it). Fake clock, no real
 * timing.
 */
import { describe, expect, it } from 'vitest';
import { quantile, timeInRounds } from '../../src/eval/interleaved-rounds.js';

describe('timeInRounds', () => {
  it('rotates the order every round and warms every case up alike, untimed', async () => {
    let t = 0;
    const order: number[] = [];
    const warm = [0, 0, 0], timed = [0, 0, 0];
    const inTimed = [false, false, false];
    const cases = [0, 1, 2].map((i) => ({ run: () => ((inTimed[i] ? timed[i]!++ : warm[i]!++), (t += 1)) }));
    const res = await timeInRounds(cases, {
      rounds: 3,
      minTimeMs: 15,
      warmup: 2,
      now: () => t,
      onTimed: (i, p) => {
        inTimed[i] = p === 'start';
        if (p === 'start') order.push(i);
      },
    });
    expect(order).toEqual([0, 1, 2, 1, 2, 0, 2, 0, 1]);
    expect(warm).toEqual([6, 6, 6]);
    expect(timed).toEqual([15, 15, 15]); // 5 ms per round = 5 calls of 1 ms
    expect(res.map((r) => r.calls)).toEqual(timed);
  });

  it('reports the median of the round medians, untouched by slow warm-up calls and one slow round', async () => {
    // case 0: the first 3 calls of every round (the warm-up) cost 50 ms, then 2 ms, but 9 ms in round 2
    let t = 0, round = -1, k0 = 0;
    const cases = [
      { run: () => (t += ++k0 <= 3 ? 50 : round === 2 ? 9 : 2) },
      { run: () => (t += 4) },
    ];
    const res = await timeInRounds(cases, {
      rounds: 5,
      minTimeMs: 50,
      warmup: 3,
      now: () => t,
      onTimed: (i, p) => {
        if (i === 0 && p === 'start') round++;
        if (i === 0 && p === 'end') k0 = 0;
      },
    });
    expect(res[0]!.round_ms).toEqual([2, 2, 9, 2, 2]);
    expect(res[0]!.median_ms).toBe(2);
    expect([res[0]!.q1_ms, res[0]!.q3_ms]).toEqual([2, 2]);
    expect(res[1]!.median_ms).toBe(4);
    // ≥ 3 calls and ≥ minTimeMs / rounds = 10 ms per round: 5 calls of 2 ms (3 of 9 ms), 3 of 4 ms
    expect(res[0]!.calls).toBe(4 * 5 + 3);
    expect(res[1]!.calls).toBe(5 * 3);
  });

  it('quantile interpolates between order statistics', () => {
    expect(quantile([4, 1, 3, 2], 0.5)).toBe(2.5);
    expect(quantile([1, 2, 3, 4, 5], 0.25)).toBe(2);
    expect(quantile([], 0.5)).toBeNaN();
  });
});
