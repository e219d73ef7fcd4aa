/**
 * svg-chart — a small, dependency-free grouped bar chart as an SVG string, for benchmark results.
 * One row of bars per group (e.g. "4096×11008 b1 t2"), one bar per series (e.g. kernel name),
 * bar length = value on a linear axis, the value printed at the bar's end.
 */
export interface ChartGroup {
  label: string;
  bars: { series: string; value: number }[];
}

export interface ChartSpec {
  title: string;
  subtitle?: string;
  unit: string;
  groups: ChartGroup[];
  /** draw a dashed reference line at this value (e.g. 1× = dense f32) */
  reference?: number;
}

const PALETTE = ['#8c8c8c', '#4c78a8', '#f58518', '#54a24b', '#e45756', '#b279a2', '#72b7b2', '#eeca3b'];

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

function niceMax(v: number): number {
  if (!(v > 0)) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

export function barChartSvg(spec: ChartSpec): string {
  const series = [...new Set(spec.groups.flatMap((g) => g.bars.map((b) => b.series)))];
  const color = new Map(series.map((s, i) => [s, PALETTE[i % PALETTE.length]!]));
  const barH = 11,
    gap = 10,
    left = 150,
    plotW = 560,
    top = spec.subtitle ? 64 : 48;
  const legendH = 18 * Math.ceil(series.length / 3) + 8;
  const groupH = (g: ChartGroup) => g.bars.length * barH + gap;
  const plotH = spec.groups.reduce((h, g) => h + groupH(g), 0);
  const height = top + plotH + 30 + legendH;
  const width = left + plotW + 80;
  const max = niceMax(Math.max(...spec.groups.flatMap((g) => g.bars.map((b) => (Number.isFinite(b.value) ? b.value : 0))), spec.reference ?? 0));
  const x = (v: number) => left + (Math.max(0, v) / max) * plotW;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<rect width="100%" height="100%" fill="white"/>`);
  out.push(`<text x="${width / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(spec.title)}</text>`);
  if (spec.subtitle) out.push(`<text x="${width / 2}" y="40" text-anchor="middle" fill="#555">${esc(spec.subtitle)}</text>`);
  for (let i = 0; i <= 5; i++) {
    const v = (max * i) / 5;
    out.push(`<line x1="${x(v)}" y1="${top - 4}" x2="${x(v)}" y2="${top + plotH}" stroke="#eee"/>`);
    out.push(`<text x="${x(v)}" y="${top + plotH + 14}" text-anchor="middle" fill="#555">${+v.toPrecision(3)}</text>`);
  }
  out.push(`<text x="${left + plotW / 2}" y="${top + plotH + 28}" text-anchor="middle" fill="#333">${esc(spec.unit)}</text>`);
  let y = top;
  for (const g of spec.groups) {
    out.push(`<text x="${left - 8}" y="${y + (g.bars.length * barH) / 2 + 4}" text-anchor="end">${esc(g.label)}</text>`);
    for (const b of g.bars) {
      const w = Number.isFinite(b.value) ? x(b.value) - left : 0;
      out.push(`<rect x="${left}" y="${y}" width="${w.toFixed(1)}" height="${barH - 2}" fill="${color.get(b.series)}"><title>${esc(`${b.series}: ${b.value}`)}</title></rect>`);
      out.push(`<text x="${(left + w + 3).toFixed(1)}" y="${y + barH - 3}" font-size="9" fill="#333">${Number.isFinite(b.value) ? +b.value.toPrecision(3) : 'n/a'}</text>`);
      y += barH;
    }
    y += gap;
  }
  if (spec.reference !== undefined) out.push(`<line x1="${x(spec.reference)}" y1="${top - 4}" x2="${x(spec.reference)}" y2="${top + plotH}" stroke="#333" stroke-dasharray="4 3"/>`);
  const ly = top + plotH + 40;
  series.forEach((s, i) => {
    const lx = left + (i % 3) * 200,
      lyy = ly + Math.floor(i / 3) * 18;
    out.push(`<rect x="${lx}" y="${lyy}" width="12" height="10" fill="${color.get(s)}"/><text x="${lx + 16}" y="${lyy + 9}">${esc(s)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
