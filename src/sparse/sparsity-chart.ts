/**
 * sparsity-chart — the SVG of `tritwise bench sparsity`: GEMV time against zero fraction, one
 * line per layout. Both axes are logarithmic in effect: x = −log10(1 − sparsity) (0 → 0 %,
 * 1 → 90 %, 2 → 99 %, 3 → 99.9 %), y = log10(ms), so every sweep point is visible.
 */
import { renderLineChart, type Series } from '../eval/svg-chart.js';
import type { SparsityReport } from './sparsity-bench.js';

const COLORS: Record<string, string> = { 'dense-f32-wasm': '#8c8c8c', planes: '#4c78a8', 'planes-skip': '#f58518', 'block-sparse': '#54a24b', csr: '#e45756', auto: '#000000' };

export function sparsityChartSvg(r: SparsityReport): string {
  const names = [...new Set(r.results.map((x) => x.name))];
  const xOf = (s: number) => -Math.log10(Math.max(1 - s, 1e-4));
  const series: Series[] = names.map((n) => ({
    name: n,
    color: COLORS[n] ?? '#b279a2',
    dash: n === 'auto' ? 'dashed' : 'solid',
    points: r.results.filter((x) => x.name === n).map((x) => [xOf(x.sparsity), Math.log10(x.median_ms)] as const),
  }));
  const first = r.results[0];
  return renderLineChart({
    title: `ternary×f32 GEMV ${first ? `${first.rows}×${first.cols}` : ''} vs zero fraction (${String(r.machine.cpu)}, ${String(r.machine.threads)} threads)`,
    xLabel: 'zeros: x = −log10(1 − sparsity)  (1 = 90 %, 2 = 99 %, 3 = 99.9 %)',
    yLabel: 'median ms (log10)',
    series,
    yFormat: (v) => `${Number((10 ** v).toPrecision(2))}`,
  });
}
