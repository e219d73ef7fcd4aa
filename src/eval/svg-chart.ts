/**
 * svg-chart — a small hand-written SVG line chart for benchmark results (no dependencies).
 *
 * Linear axes with "nice" ticks (1, 2, 5 × 10^k steps), one polyline plus point markers per
 * series (solid or dashed), a legend on the right, and the title on top. Coordinates map
 *   px = left + (x − x0)/(x1 − x0) · width,   py = top + (1 − (y − y0)/(y1 − y0)) · height
 */

export interface Series {
  name: string;
  color: string;
  /** line style (default solid) */
  dash?: 'solid' | 'dashed' | 'dotted';
  points: readonly (readonly [number, number])[];
}

export interface LineChart {
  title: string;
  xLabel: string;
  yLabel: string;
  series: readonly Series[];
  /** axis ranges (default: from the data, y from 0) */
  x?: [number, number];
  y?: [number, number];
  /** format of y tick labels (default: the number) */
  yFormat?: (v: number) => string;
  width?: number;
  height?: number;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Tick positions covering [a, b] with about `n` steps of 1, 2 or 5 × 10^k. */
export function niceTicks(a: number, b: number, n = 6): number[] {
  if (!(b > a)) return [a];
  const raw = (b - a) / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((k) => k * mag).find((s) => s >= raw)!;
  const out: number[] = [];
  for (let v = Math.ceil(a / step - 1e-9) * step; v <= b + 1e-9 * step; v += step) out.push(Number(v.toPrecision(12)));
  return out;
}

const r2 = (v: number) => Math.round(v * 100) / 100;

export function renderLineChart(c: LineChart): string {
  const W = c.width ?? 860, H = c.height ?? 500;
  const left = 70, right = 220, top = 50, bottom = 60;
  const w = W - left - right, h = H - top - bottom;
  const xs = c.series.flatMap((s) => s.points.map((p) => p[0]));
  const ys = c.series.flatMap((s) => s.points.map((p) => p[1]));
  const [x0, x1] = c.x ?? [Math.min(0, ...xs), Math.max(1, ...xs)];
  const [y0, y1] = c.y ?? [Math.min(0, ...ys), Math.max(1, ...ys)];
  const px = (x: number) => r2(left + ((x - x0) / (x1 - x0 || 1)) * w);
  const py = (y: number) => r2(top + (1 - (y - y0) / (y1 - y0 || 1)) * h);
  const fmtY = c.yFormat ?? ((v: number) => String(v));
  const o: string[] = [];
  o.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`);
  o.push(`<rect width="${W}" height="${H}" fill="white"/>`);
  o.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${esc(c.title)}</text>`);
  for (const t of niceTicks(x0, x1)) {
    o.push(`<line x1="${px(t)}" y1="${top}" x2="${px(t)}" y2="${top + h}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${px(t)}" y="${top + h + 18}" text-anchor="middle">${esc(String(t))}</text>`);
  }
  for (const t of niceTicks(y0, y1, 5)) {
    o.push(`<line x1="${left}" y1="${py(t)}" x2="${left + w}" y2="${py(t)}" stroke="#e5e5e5"/>`);
    o.push(`<text x="${left - 8}" y="${py(t) + 4}" text-anchor="end">${esc(fmtY(t))}</text>`);
  }
  o.push(`<rect x="${left}" y="${top}" width="${w}" height="${h}" fill="none" stroke="#333"/>`);
  o.push(`<text x="${left + w / 2}" y="${H - 18}" text-anchor="middle">${esc(c.xLabel)}</text>`);
  o.push(`<text transform="translate(18 ${top + h / 2}) rotate(-90)" text-anchor="middle">${esc(c.yLabel)}</text>`);
  c.series.forEach((s, i) => {
    const dash = s.dash === 'dashed' ? ' stroke-dasharray="6 4"' : s.dash === 'dotted' ? ' stroke-dasharray="2 3"' : '';
    const pts = s.points.map((p) => `${px(p[0])},${py(p[1])}`).join(' ');
    o.push(`<g class="series" data-name="${esc(s.name)}">`);
    o.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts}"/>`);
    if (s.dash !== 'dotted') for (const p of s.points) o.push(`<circle cx="${px(p[0])}" cy="${py(p[1])}" r="3" fill="${s.color}"/>`);
    o.push('</g>');
    const ly = top + 10 + i * 20;
    o.push(`<line x1="${left + w + 16}" y1="${ly}" x2="${left + w + 46}" y2="${ly}" stroke="${s.color}" stroke-width="2"${dash}/>`);
    o.push(`<text x="${left + w + 52}" y="${ly + 4}">${esc(s.name)}</text>`);
  });
  o.push('</svg>');
  return o.join('\n') + '\n';
}
