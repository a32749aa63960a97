/**
 * The traffic charts (uPlot): requests, errors, shed and queued per second;
 * TTFT and latency p50/p90/p99. Lines differ by dash as well as colour, and
 * each chart has its latest values as text under it for readers who do not
 * see the canvas.
 */
import uPlot from 'uplot';
import type { Percentiles, SeriesPoint } from '../feed.ts';
import { h, setText } from './dom.ts';

interface Line {
  label: string;
  stroke: string;
  dash?: number[];
  value: (p: SeriesPoint) => number | null;
}

interface ChartSpec {
  id: string;
  title: string;
  unit: string;
  lines: Line[];
}

const pct = (key: keyof Percentiles, of: 'ttftMs' | 'latencyMs') => (p: SeriesPoint) => p[of]?.[key] ?? null;
const percentileLines = (of: 'ttftMs' | 'latencyMs'): Line[] => [
  { label: 'p50', stroke: '#2563eb', value: pct('p50', of) },
  { label: 'p90', stroke: '#b45309', dash: [8, 4], value: pct('p90', of) },
  { label: 'p99', stroke: '#b91c1c', dash: [2, 3], value: pct('p99', of) },
];

const SPECS: ChartSpec[] = [
  {
    id: 'rate',
    title: 'Requests per second',
    unit: '/s',
    lines: [
      { label: 'requests', stroke: '#2563eb', value: (p) => p.requests },
      { label: 'errors', stroke: '#b91c1c', dash: [8, 4], value: (p) => p.errors },
      { label: 'shed', stroke: '#7c3aed', dash: [2, 3], value: (p) => p.shed },
      { label: 'queued', stroke: '#b45309', dash: [12, 3, 2, 3], value: (p) => p.queued },
    ],
  },
  { id: 'ttft', title: 'Time to first token', unit: ' ms', lines: percentileLines('ttftMs') },
  { id: 'latency', title: 'Request latency', unit: ' ms', lines: percentileLines('latencyMs') },
];

interface Chart {
  spec: ChartSpec;
  plot: uPlot;
  latest: HTMLElement;
  box: HTMLElement;
}

export class ChartsView {
  readonly #charts: Chart[];

  constructor(root: HTMLElement) {
    this.#charts = SPECS.map((spec) => {
      const box = h('div', { class: 'plot' });
      const latest = h('p', { class: 'latest' });
      const headingId = `chart-${spec.id}-title`;
      root.append(h('figure', { class: 'chart', id: `chart-${spec.id}`, 'aria-labelledby': headingId }, h('figcaption', { id: headingId }, spec.title), box, latest));
      const plot = new uPlot(options(spec, box.clientWidth || 400), [[], ...spec.lines.map(() => [])], box);
      return { spec, plot, latest, box };
    });
    // uPlot draws at a fixed size: follow the figure's width.
    const resize = new ResizeObserver(() => {
      for (const c of this.#charts) c.plot.setSize({ width: Math.max(200, c.box.clientWidth), height: 180 });
    });
    for (const c of this.#charts) resize.observe(c.box);
  }

  render(series: SeriesPoint[]): void {
    const xs = series.map((p) => p.t / 1000);
    const last = series.at(-1);
    for (const c of this.#charts) {
      c.plot.setData([xs, ...c.spec.lines.map((line) => series.map(line.value))]);
      const text = last ? c.spec.lines.map((line) => `${line.label} ${format(line.value(last))}${c.spec.unit}`).join(', ') : 'no traffic yet';
      setText(c.latest, `Last second: ${text}`);
    }
  }
}

function format(x: number | null): string {
  if (x === null) return '–';
  return Number.isInteger(x) ? String(x) : x.toFixed(1);
}

function options(spec: ChartSpec, width: number): uPlot.Options {
  return {
    width,
    height: 180,
    // Names only: the values under the cursor would repeat the latest-values line below the chart.
    legend: { show: true, live: false },
    cursor: { drag: { x: false, y: false } },
    scales: { x: { time: true }, y: { range: (_u, min, max) => [0, Math.max(1, max ?? 0, min ?? 0)] } },
    axes: [{}, { size: 50, label: spec.unit.trim() === 'ms' ? 'ms' : 'per second' }],
    series: [{}, ...spec.lines.map((line) => ({ label: line.label, stroke: line.stroke, width: 2, dash: line.dash, spanGaps: false, points: { show: false } }))],
  };
}
