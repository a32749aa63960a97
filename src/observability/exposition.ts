/**
 * A small Prometheus registry: counter, gauge and histogram families with
 * labels, rendered in the text exposition format (version 0.0.4). The core's
 * own, not prom-client: prom-client loads node:cluster, v8 and perf_hooks at
 * import, and the gateway's core also runs on Workers and Deno. Recording is
 * the hot path, so a series is looked up once and kept (`labels(...)` returns
 * the same object every time); the caller holds it and bumps a number.
 */
import { Histogram } from './histogram.ts';

export interface Sample {
  value: number;
}

type Kind = 'counter' | 'gauge' | 'histogram';
type SeriesOf<K extends Kind> = K extends 'histogram' ? Histogram : Sample;

export class Family<K extends Kind = Kind> {
  readonly #series = new Map<string, { values: readonly string[]; series: SeriesOf<K> }>();

  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: K,
    readonly labelNames: readonly string[],
    readonly bounds: readonly number[] = [],
  ) {}

  /** The series for these label values (in `labelNames` order), created at zero on first use. */
  labels(...values: string[]): SeriesOf<K> {
    const key = values.length === 1 ? values[0]! : values.join('\u0000');
    let entry = this.#series.get(key);
    if (!entry) {
      const series = (this.type === 'histogram' ? new Histogram(this.bounds) : { value: 0 }) as SeriesOf<K>;
      this.#series.set(key, (entry = { values, series }));
    }
    return entry.series;
  }

  /** Drop every series (a gauge family recomputed from scratch before each scrape). */
  clear(): void {
    this.#series.clear();
  }

  get size(): number {
    return this.#series.size;
  }

  render(out: string[]): void {
    out.push(`# HELP ${this.name} ${escapeHelp(this.help)}`, `# TYPE ${this.name} ${this.type}`);
    for (const { values, series } of this.#series.values()) {
      const labels = this.labelNames.map((n, i) => `${n}="${escapeLabel(values[i] ?? '')}"`);
      if (series instanceof Histogram) renderHistogram(out, this.name, labels, series);
      else out.push(`${this.name}${labels.length ? `{${labels.join(',')}}` : ''} ${formatNumber(series.value)}`);
    }
  }
}

function renderHistogram(out: string[], name: string, labels: string[], h: Histogram): void {
  const prefix = labels.length ? `${labels.join(',')},` : '';
  const plain = labels.length ? `{${labels.join(',')}}` : '';
  let cumulative = 0;
  for (let i = 0; i < h.bounds.length; i++) {
    cumulative += h.counts[i]!;
    out.push(`${name}_bucket{${prefix}le="${h.bounds[i]}"} ${cumulative}`);
  }
  out.push(`${name}_bucket{${prefix}le="+Inf"} ${h.count}`, `${name}_sum${plain} ${formatNumber(h.sum)}`, `${name}_count${plain} ${h.count}`);
}

/** Families in the order they were registered, plus collectors run before each render. */
export class Registry {
  readonly #families: Family[] = [];
  readonly #collectors: Array<() => void> = [];

  counter(name: string, help: string, labelNames: readonly string[] = []): Family<'counter'> {
    return this.#add(new Family(name, help, 'counter', labelNames));
  }

  gauge(name: string, help: string, labelNames: readonly string[] = []): Family<'gauge'> {
    return this.#add(new Family(name, help, 'gauge', labelNames));
  }

  histogram(name: string, help: string, labelNames: readonly string[], bounds: readonly number[]): Family<'histogram'> {
    return this.#add(new Family(name, help, 'histogram', labelNames, bounds));
  }

  /** Run `collect` before each render (to set gauges read from elsewhere). */
  collect(collect: () => void): void {
    this.#collectors.push(collect);
  }

  render(): string {
    for (const c of this.#collectors) c();
    const out: string[] = [];
    for (const f of this.#families) f.render(out);
    return out.length ? `${out.join('\n')}\n` : '';
  }

  #add<K extends Kind>(family: Family<K>): Family<K> {
    if (this.#families.some((f) => f.name === family.name)) throw new Error(`metric family ${family.name} registered twice`);
    this.#families.push(family as unknown as Family);
    return family;
  }
}

/** Label values past this many distinct ones fold into `other` (GIE's cap for model names, llm-d's for fairness ids). */
export const LABEL_VALUE_LIMIT = 1000;

/**
 * Bounds a label's distinct values: the first `limit` seen pass, later new
 * ones read `other`, so a client sending random model names cannot grow the
 * exposition without end.
 */
export class BoundedLabel {
  readonly #seen = new Set<string>();
  constructor(readonly limit = LABEL_VALUE_LIMIT) {}

  value(v: string): string {
    if (this.#seen.has(v)) return v;
    if (this.#seen.size >= this.limit) return 'other';
    this.#seen.add(v);
    return v;
  }
}

export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function escapeHelp(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function formatNumber(n: number): string {
  if (n === Infinity) return '+Inf';
  if (n === -Infinity) return '-Inf';
  return String(n);
}

/** Bucket bounds from GIE/llm-d's pkg/epp/metrics/metrics.go (docs/compatibility.md §e). */
export const BUCKETS = {
  generalLatency: [0.005, 0.025, 0.05, 0.1, 0.2, 0.4, 0.6, 0.8, 1, 1.25, 1.5, 2, 3, 4, 5, 6, 8, 10, 15, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700, 3600],
  tpot: [0.0005, 0.00205, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.125, 0.15, 0.2, 0.3, 0.4, 0.5, 0.6, 0.8, 1, 1.5, 2, 3, 4.5, 6, 12, 18, 24, 30, 36, 48, 60, 90, 120, 180, 270, 360],
  normalizedTpot: [0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10],
  scheduler: [0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1],
  flowQueue: [0.0001, 0.0005, 0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60],
  /** 64 B … 1 GiB, doubling. */
  requestSizes: Array.from({ length: 25 }, (_, i) => 64 * 2 ** i),
  // 32778 is in GIE's source as written (a typo for 32768); kept so the series match GIE's exactly.
  responseSizes: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32778, 65536],
  inputTokens: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32778, 65536, 131072, 262144, 524288, 1048576],
  outputTokens: [1, 8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192],
  hitRatio: [0, 0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 1],
} as const;
