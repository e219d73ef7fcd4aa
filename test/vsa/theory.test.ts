import { describe, expect, it } from 'vitest';
import { ampStateEvolution, cleanupAccuracy, normalCdf, singleShotAccuracy } from '../../src/vsa/theory.js';

describe('theory', () => {
  it('Φ matches known values', () => {
    expect(normalCdf(0)).toBeCloseTo(0.5, 7);
    expect(normalCdf(1.959964)).toBeCloseTo(0.975, 6);
    expect(normalCdf(-3)).toBeCloseTo(0.0013499, 6);
  });

  it('the single-shot prediction reproduces the independent simulations quoted in the issue', () => {
    // D = 10,000, M = 1,000: 95 % at N = 400, 87 % at 500, 47 % at 1,000
    expect(singleShotAccuracy(10000, 400, 1000)).toBeCloseTo(0.95, 1);
    expect(singleShotAccuracy(10000, 500, 1000)).toBeCloseTo(0.87, 1);
    expect(singleShotAccuracy(10000, 1000, 1000)).toBeCloseTo(0.47, 1);
    expect(cleanupAccuracy(20, 1000)).toBeGreaterThan(0.999999);
    expect(cleanupAccuracy(0, 1000)).toBeCloseTo(0.001, 4); // chance
  });

  it('AMP state evolution decodes completely at D/N = 10, 8, 7 and stalls at 6', () => {
    for (const r of [10, 8, 7]) expect(ampStateEvolution(r, 1000, { samples: 200 }).converged).toBe(true);
    const s = ampStateEvolution(6, 1000, { samples: 200 });
    expect(s.converged).toBe(false);
    expect(s.accuracy).toBeGreaterThan(0.2);
    expect(s.accuracy).toBeLessThan(0.4);
  });
});
