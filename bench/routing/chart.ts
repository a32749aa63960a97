/** A hand-written SVG line chart: TTFT p99 (log scale) against load, one line per strategy. */
import type { WorkloadResult } from './run.ts';

const COLORS = ['#8c8c8c', '#d62728', '#ff7f0e', '#9467bd', '#1f77b4', '#2ca02c', '#17becf', '#e377c2'];
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;');

export function ttftChart(r: WorkloadResult, title = `${r.workload}: TTFT p99 vs ${r.axis === 'speed' ? 'replay speed' : 'load'} (${r.mode === 'sim' ? 'simulated time' : 'end to end'})`): string {
  const speed = r.axis === 'speed';
  const W = 640, H = 380, L = 70, R = 170, T = 40, B = 50;
  const pw = W - L - R, ph = H - T - B;
  const strategies = r.levels[0]?.runs.map((m) => m.strategy) ?? [];
  const values = r.levels.flatMap((l) => l.runs.map((m) => m.ttft.p99)).filter((v) => Number.isFinite(v) && v > 0);
  const lo = Math.pow(10, Math.floor(Math.log10(Math.min(...values))));
  const hi = Math.pow(10, Math.ceil(Math.log10(Math.max(...values))));
  const levels = r.levels.map((l) => l.level);
  const xMin = Math.min(...levels), xMax = Math.max(...levels);
  const x = (v: number) => L + (xMax === xMin ? pw / 2 : ((v - xMin) / (xMax - xMin)) * pw);
  const y = (v: number) => T + ph - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`,
    `<rect width="${W}" height="${H}" fill="white"/>`,
    `<text x="${L}" y="22" font-size="14" font-weight="bold">${esc(title)}</text>`,
  ];
  for (let d = lo; d <= hi * 1.0001; d *= 10) {
    out.push(`<line x1="${L}" x2="${L + pw}" y1="${y(d).toFixed(1)}" y2="${y(d).toFixed(1)}" stroke="#ddd"/>`);
    out.push(`<text x="${L - 6}" y="${(y(d) + 4).toFixed(1)}" text-anchor="end">${d >= 1000 ? `${d / 1000} s` : `${d} ms`}</text>`);
  }
  for (const v of levels) {
    out.push(`<line x1="${x(v).toFixed(1)}" x2="${x(v).toFixed(1)}" y1="${T}" y2="${T + ph}" stroke="#eee"/>`);
    out.push(`<text x="${x(v).toFixed(1)}" y="${T + ph + 18}" text-anchor="middle">${speed ? `${v}×` : `${Math.round(v * 100)}%`}</text>`);
  }
  out.push(`<rect x="${L}" y="${T}" width="${pw}" height="${ph}" fill="none" stroke="#444"/>`);
  out.push(`<text x="${L + pw / 2}" y="${H - 10}" text-anchor="middle">${speed ? 'replay speed (× recorded)' : 'load (share of measured capacity)'}</text>`);
  out.push(`<text transform="translate(16 ${T + ph / 2}) rotate(-90)" text-anchor="middle">TTFT p99 (log scale)</text>`);
  strategies.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const pts = r.levels
      .map((l) => [l.level, l.runs.find((m) => m.strategy === s)?.ttft.p99 ?? NaN] as const)
      .filter(([, v]) => Number.isFinite(v) && v > 0);
    const width = s === 'infergate-default' ? 3 : 1.6;
    out.push(`<polyline fill="none" stroke="${color}" stroke-width="${width}" points="${pts.map(([a, b]) => `${x(a).toFixed(1)},${y(b).toFixed(1)}`).join(' ')}"/>`);
    for (const [a, b] of pts) out.push(`<circle cx="${x(a).toFixed(1)}" cy="${y(b).toFixed(1)}" r="3" fill="${color}"/>`);
    const ly = T + 10 + i * 20;
    out.push(`<line x1="${L + pw + 12}" x2="${L + pw + 36}" y1="${ly}" y2="${ly}" stroke="${color}" stroke-width="${width}"/>`);
    out.push(`<text x="${L + pw + 42}" y="${ly + 4}">${esc(s)}</text>`);
  });
  out.push('</svg>');
  return out.join('\n') + '\n';
}
