import { describe, expect, it } from 'vitest';
import { niceTicks, renderLineChart } from '../../src/eval/svg-chart.js';

describe('svg line chart', () => {
  it('nice ticks are 1/2/5 steps covering the range', () => {
    expect(niceTicks(0, 1, 5)).toEqual([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(niceTicks(0, 3300)).toEqual([0, 1000, 2000, 3000]);
    expect(niceTicks(0, 0.22)).toEqual([0, 0.05, 0.1, 0.15, 0.2]);
    expect(niceTicks(5, 5)).toEqual([5]);
  });

  it('draws one polyline per series at the mapped coordinates, with an escaped legend', () => {
    const svg = renderLineChart({
      title: 'a < b',
      xLabel: 'x',
      yLabel: 'y',
      x: [0, 10],
      y: [0, 1],
      width: 860,
      height: 500,
      series: [
        { name: 'one & two', color: '#f00', points: [[0, 0], [10, 1]] },
        { name: 'dashed', color: '#00f', dash: 'dashed', points: [[5, 0.5]] },
      ],
    });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg).toContain('a &lt; b');
    expect(svg).toContain('one &amp; two');
    expect(svg.match(/<polyline /g)).toHaveLength(2);
    // plot area: left 70, top 50, width 860-70-220 = 570, height 500-50-60 = 390
    expect(svg).toContain('points="70,440 640,50"');
    expect(svg).toContain('stroke-dasharray="6 4"');
  });
});
