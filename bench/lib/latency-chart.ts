// A self-contained SVG of an open-loop sweep: p50/p99/p99.9 (log ms) against the offered rate, the unloaded p50 and
// the floor as horizontal lines, the closed-loop saturation as a vertical one. Plain SVG text, no dependency.
import type { SweepSummary } from './sweep.js';

const W = 900;
const H = 520;
const P = { left: 80, right: 40, top: 60, bottom: 80 };
const SERIES = [
  { key: 'p50Ms', name: 'p50', color: '#9ecae1' },
  { key: 'p99Ms', name: 'p99', color: '#2171b5' },
  { key: 'p999Ms', name: 'p99.9', color: '#08306b' },
] as const;

const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const r1 = (x: number) => Math.round(x * 10) / 10;
const text = (x: number, y: number, s: string, attrs = '') => `<text x="${r1(x)}" y="${r1(y)}" ${attrs}>${esc(s)}</text>`;

export function renderLatencySweepSvg(s: SweepSummary, title: string): string {
  const pts = [...s.openLoop].sort((a, b) => a.offeredPerSec - b.offeredPerSec);
  const finite = pts.flatMap((p) => SERIES.map((x) => p[x.key])).filter((v) => Number.isFinite(v) && v > 0);
  const floorMs = s.floor.limitMs;
  const lo = Math.floor(Math.log10(Math.min(s.unloadedP50Ms > 0 ? s.unloadedP50Ms : 1, ...finite)));
  const hi = Math.max(lo + 1, Math.ceil(Math.log10(Math.max(floorMs, ...finite))) + (finite.length < pts.length * 3 ? 1 : 0));
  const xMax = Math.max(s.saturationPerSec, ...pts.map((p) => p.offeredPerSec)) * 1.05;
  const pw = W - P.left - P.right;
  const ph = H - P.top - P.bottom;
  const xs = (v: number) => P.left + (v / xMax) * pw;
  // Infinity (percentile among dropped calls) is drawn at the top edge.
  const ys = (ms: number) => (Number.isFinite(ms) ? P.top + ph - ((Math.log10(Math.max(ms, 10 ** lo)) - lo) / (hi - lo)) * ph : P.top);
  const out: string[] = [text(W / 2, 30, title, 'text-anchor="middle" font-size="17" font-weight="bold"')];
  const y0 = P.top + ph;
  out.push(`<line x1="${P.left}" y1="${y0}" x2="${P.left + pw}" y2="${y0}" stroke="#333"/>`, `<line x1="${P.left}" y1="${P.top}" x2="${P.left}" y2="${y0}" stroke="#333"/>`);
  for (let e = lo; e <= hi; e++) {
    const y = ys(10 ** e);
    out.push(`<line x1="${P.left}" y1="${r1(y)}" x2="${P.left + pw}" y2="${r1(y)}" stroke="#e5e5e5"/>`, text(P.left - 8, y + 4, String(10 ** e), 'text-anchor="end"'));
  }
  const step = 10 ** Math.floor(Math.log10(xMax / 5));
  const xStep = [1, 2, 2.5, 5, 10].map((m) => m * step).find((v) => xMax / v <= 6) ?? 10 * step;
  for (let v = 0; v <= xMax; v += xStep) out.push(`<line x1="${r1(xs(v))}" y1="${y0}" x2="${r1(xs(v))}" y2="${y0 + 4}" stroke="#333"/>`, text(xs(v), y0 + 18, String(Math.round(v)), 'text-anchor="middle"'));
  out.push(text(P.left + pw / 2, y0 + 40, 'offered allocations/s (Poisson arrivals)', 'text-anchor="middle"'));
  out.push(text(24, P.top + ph / 2, 'latency from scheduled arrival, ms (log)', `text-anchor="middle" transform="rotate(-90 24 ${P.top + ph / 2})"`));
  // Reference lines: unloaded p50, the floor, the saturation.
  const hline = (ms: number, color: string, label: string) => {
    const y = r1(ys(ms));
    out.push(`<line x1="${P.left}" y1="${y}" x2="${P.left + pw}" y2="${y}" stroke="${color}" stroke-dasharray="6 4"/>`, text(P.left + pw - 4, y - 5, label, `text-anchor="end" fill="${color}"`));
  };
  hline(s.unloadedP50Ms, '#2ca02c', `unloaded p50 ${s.unloadedP50Ms} ms`);
  hline(floorMs, '#d62728', `floor: p99 at ${s.floor.loadFraction * 100}% <= ${floorMs} ms (${s.floor.met ? 'met' : 'NOT met'})`);
  const sx = r1(xs(s.saturationPerSec));
  out.push(`<line x1="${sx}" y1="${P.top}" x2="${sx}" y2="${y0}" stroke="#ff7f0e" stroke-dasharray="6 4"/>`, text(sx - 4, P.top + 14, `closed-loop saturation ${s.saturationPerSec}/s`, 'text-anchor="end" fill="#ff7f0e"'));
  for (const ser of SERIES) {
    const d = pts.map((p, i) => `${i === 0 ? 'M' : 'L'}${r1(xs(p.offeredPerSec))},${r1(ys(p[ser.key]))}`).join(' ');
    out.push(`<path d="${d}" fill="none" stroke="${ser.color}" stroke-width="2"/>`);
    for (const p of pts) {
      const v = p[ser.key];
      out.push(`<circle cx="${r1(xs(p.offeredPerSec))}" cy="${r1(ys(v))}" r="3.5" fill="${ser.color}"><title>${esc(`${p.offeredPerSec}/s (${Math.round(p.loadFraction * 100)}%): ${ser.name} ${Number.isFinite(v) ? `${v} ms` : 'beyond the dropped calls'}, dropped ${p.dropped}`)}</title></circle>`);
    }
  }
  let lx = P.left;
  for (const ser of SERIES) {
    out.push(`<rect x="${lx}" y="${H - 21}" width="12" height="10" fill="${ser.color}"/>`, text(lx + 16, H - 12, ser.name));
    lx += 70;
  }
  out.push(text(lx, H - 12, 'points at the top edge: beyond the dropped/timed-out calls', 'fill="#666"'));
  return [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`, `<rect width="${W}" height="${H}" fill="#fff"/>`, ...out, '</svg>', ''].join('\n');
}
