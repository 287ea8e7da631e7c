// A self-contained SVG report (no fonts, scripts or links): throughput over time on the left, latency percentiles
// as grouped bars on the right. Open it in any browser.

export interface ChartOptions {
  title: string;
  /** Throughput series: t in seconds since start, v in operations/s. */
  series: { name: string; points: { t: number; v: number }[] }[];
  /** Latency percentiles in ms, one bar group per entry. */
  percentiles?: { name: string; p50: number; p90: number; p99: number; max: number }[];
}

const W = 1100;
const H = 480;
const PANEL = { top: 60, bottom: 80, height: H - 60 - 80 };
const LEFT = { x: 70, w: 560 };
const RIGHT = { x: 720, w: 340 };
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];
const PCT = ['p50', 'p90', 'p99', 'max'] as const;
const PCT_COLORS = ['#9ecae1', '#4292c6', '#08519c', '#08306b'];

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const fin = (x: number) => (Number.isFinite(x) ? x : 0);
const fmt = (x: number) => (Math.abs(x) >= 10_000 ? `${round(x / 1000, 1)}k` : String(round(x, Math.abs(x) < 10 ? 2 : 0)));
const round = (x: number, d: number) => Math.round(x * 10 ** d) / 10 ** d;

/** About `n` round tick values from 0 to at least `max`. */
function ticks(max: number, n = 5): number[] {
  if (!(max > 0)) return [0, 1];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 2.5, 5, 10].map((m) => m * mag).find((s) => s >= raw) ?? 10 * mag);
  const out: number[] = [];
  for (let v = 0; v < max + step * 0.999; v += step) out.push(round(v, 6));
  return out;
}

function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${round(x, 1)}" y="${round(y, 1)}" ${attrs}>${esc(s)}</text>`;
}

function axes(x0: number, w: number, xt: number[], yt: number[], xLabel: string, yLabel: string, xs: (v: number) => number, ys: (v: number) => number, xTickLabels?: string[]): string[] {
  const y0 = PANEL.top + PANEL.height;
  const out = [`<line x1="${x0}" y1="${y0}" x2="${x0 + w}" y2="${y0}" stroke="#333"/>`, `<line x1="${x0}" y1="${PANEL.top}" x2="${x0}" y2="${y0}" stroke="#333"/>`];
  for (const v of yt) {
    const y = ys(v);
    out.push(`<line x1="${x0}" y1="${round(y, 1)}" x2="${x0 + w}" y2="${round(y, 1)}" stroke="#e5e5e5"/>`, `<line x1="${x0 - 4}" y1="${round(y, 1)}" x2="${x0}" y2="${round(y, 1)}" stroke="#333"/>`);
    out.push(text(x0 - 7, y + 4, fmt(v), 'text-anchor="end"'));
  }
  xt.forEach((v, i) => {
    const x = xs(v);
    out.push(`<line x1="${round(x, 1)}" y1="${y0}" x2="${round(x, 1)}" y2="${y0 + 4}" stroke="#333"/>`);
    out.push(text(x, y0 + 18, xTickLabels?.[i] ?? fmt(v), 'text-anchor="middle"'));
  });
  out.push(text(x0 + w / 2, y0 + 40, xLabel, 'text-anchor="middle"'));
  out.push(text(x0 - 52, PANEL.top + PANEL.height / 2, yLabel, `text-anchor="middle" transform="rotate(-90 ${x0 - 52} ${PANEL.top + PANEL.height / 2})"`));
  return out;
}

function legend(x: number, y: number, items: { name: string; color: string }[]): string[] {
  const out: string[] = [];
  let cx = x;
  for (const it of items) {
    out.push(`<rect x="${cx}" y="${y - 9}" width="12" height="10" fill="${it.color}"/>`, text(cx + 16, y, it.name));
    cx += 16 + it.name.length * 7 + 18;
  }
  return out;
}

export function renderSvg(opts: ChartOptions): string {
  const parts: string[] = [text(W / 2, 30, opts.title, 'text-anchor="middle" font-size="18" font-weight="bold"')];
  const y0 = PANEL.top + PANEL.height;

  // Left: throughput over time.
  const all = opts.series.flatMap((s) => s.points);
  const tMax = Math.max(0, ...all.map((p) => fin(p.t)));
  const vMax = Math.max(0, ...all.map((p) => fin(p.v)));
  const xt = ticks(tMax, 6);
  const yt = ticks(vMax, 5);
  const xs = (t: number) => LEFT.x + (fin(t) / xt[xt.length - 1]!) * LEFT.w;
  const ys = (v: number) => y0 - (fin(v) / yt[yt.length - 1]!) * PANEL.height;
  parts.push(text(LEFT.x + LEFT.w / 2, PANEL.top - 12, 'throughput over time', 'text-anchor="middle" font-weight="bold"'));
  parts.push(...axes(LEFT.x, LEFT.w, xt, yt, 'time (s)', 'per second', xs, ys));
  opts.series.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const d = s.points.map((p, j) => `${j === 0 ? 'M' : 'L'}${round(xs(p.t), 1)},${round(ys(p.v), 1)}`).join(' ');
    if (d) parts.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="1.8"/>`);
  });
  parts.push(...legend(LEFT.x, H - 12, opts.series.map((s, i) => ({ name: s.name, color: COLORS[i % COLORS.length]! }))));

  // Right: latency percentiles, one group of bars per entry.
  const groups = opts.percentiles ?? [];
  if (groups.length > 0) {
    const values = groups.flatMap((g) => PCT.map((k) => fin(g[k])));
    const lMax = Math.max(0, ...values);
    const lMin = Math.min(...values.filter((v) => v > 0));
    // Latencies a thousand times apart (the engine next to pool-CAS) need a log axis, or the small bars vanish.
    const log = lMin > 0 && lMax / lMin > 100;
    const lo = log ? Math.floor(Math.log10(lMin)) : 0;
    const hi = log ? Math.ceil(Math.log10(lMax)) : 0;
    const lt = log ? Array.from({ length: hi - lo + 1 }, (_, i) => 10 ** (lo + i)) : ticks(lMax, 5);
    const ly = log
      ? (v: number) => y0 - ((Math.log10(Math.max(fin(v), 10 ** lo)) - lo) / (hi - lo)) * PANEL.height
      : (v: number) => y0 - (fin(v) / lt[lt.length - 1]!) * PANEL.height;
    const gw = RIGHT.w / groups.length;
    const bw = Math.min(22, (gw * 0.8) / PCT.length);
    const centers = groups.map((_, i) => i + 0.5);
    parts.push(text(RIGHT.x + RIGHT.w / 2, PANEL.top - 12, 'latency percentiles', 'text-anchor="middle" font-weight="bold"'));
    parts.push(...axes(RIGHT.x, RIGHT.w, centers, lt, '', log ? 'ms (log scale)' : 'ms', (c) => RIGHT.x + c * gw, ly, groups.map((g) => g.name)));
    groups.forEach((g, i) => {
      const gx = RIGHT.x + i * gw + (gw - bw * PCT.length) / 2;
      PCT.forEach((k, j) => {
        const v = fin(g[k]);
        const top = ly(v);
        parts.push(`<rect x="${round(gx + j * bw, 1)}" y="${round(top, 1)}" width="${round(bw - 2, 1)}" height="${round(y0 - top, 1)}" fill="${PCT_COLORS[j]}"><title>${esc(`${g.name} ${k}: ${v} ms`)}</title></rect>`);
      });
    });
    parts.push(...legend(RIGHT.x, H - 12, PCT.map((k, j) => ({ name: k, color: PCT_COLORS[j]! }))));
  }

  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="#fff"/>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}
