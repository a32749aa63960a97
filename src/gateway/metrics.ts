/**
 * The gateway's own Prometheus metrics (served on the admin port at
 * `/metrics`): what operators ask first — how many requests per pool, model
 * and status, how long they took, time to first token of streamed answers,
 * how many were shed, and how often an endpoint refused and was retried.
 * Cheap on the hot path: a few Map look-ups per request.
 */
import { Histogram, REQUEST_BUCKETS, TTFT_BUCKETS } from '../observability/histogram.ts';

export class GatewayMetrics {
  readonly #requests = new Map<string, number>();
  readonly #duration = new Map<string, Histogram>();
  readonly #ttft = new Map<string, Histogram>();
  readonly #refused = new Map<string, number>();
  readonly #shed = new Map<string, number>();
  readonly #retries = new Map<string, number>();
  readonly #resumed = new Map<string, number>();

  request(pool: string, model: string, code: number): void {
    const key = `${pool}\u0000${model}\u0000${code}`;
    this.#requests.set(key, (this.#requests.get(key) ?? 0) + 1);
  }

  duration(pool: string, seconds: number): void {
    histogram(this.#duration, pool, REQUEST_BUCKETS).observe(seconds);
  }

  firstToken(pool: string, seconds: number): void {
    histogram(this.#ttft, pool, TTFT_BUCKETS).observe(seconds);
  }

  refused(pool: string): void {
    this.#refused.set(pool, (this.#refused.get(pool) ?? 0) + 1);
  }

  retried(pool: string, reason: string): void {
    const key = `${pool}\u0000${reason}`;
    this.#retries.set(key, (this.#retries.get(key) ?? 0) + 1);
  }

  resumed(pool: string, ok: boolean): void {
    const key = `${pool}\u0000${ok ? 'resumed' : 'error_event'}`;
    this.#resumed.set(key, (this.#resumed.get(key) ?? 0) + 1);
  }

  shed(pool: string): void {
    this.#shed.set(pool, (this.#shed.get(pool) ?? 0) + 1);
  }

  /** Prometheus text exposition (version 0.0.4). */
  render(): string {
    const out: string[] = [];
    out.push('# HELP infergate_requests_total Requests answered, by pool, requested model and HTTP status.', '# TYPE infergate_requests_total counter');
    for (const [key, n] of this.#requests) {
      const [pool, model, code] = key.split('\u0000');
      out.push(`infergate_requests_total{pool="${esc(pool!)}",model="${esc(model!)}",code="${code}"} ${n}`);
    }
    renderHistograms(out, 'infergate_request_duration_seconds', 'Time from request to the end of the answer, by pool.', this.#duration);
    renderHistograms(out, 'infergate_time_to_first_token_seconds', 'Time from request to the first streamed byte of the answer, by pool.', this.#ttft);
    out.push('# HELP infergate_upstream_refused_total Attempts on an endpoint that refused or reset the connection (then retried elsewhere).', '# TYPE infergate_upstream_refused_total counter');
    for (const [pool, n] of this.#refused) out.push(`infergate_upstream_refused_total{pool="${esc(pool)}"} ${n}`);
    out.push('# HELP infergate_retries_total Requests sent again to another endpoint before the first byte of the answer, by pool and why (an upstream status, or connect-failure).', '# TYPE infergate_retries_total counter');
    for (const [key, n] of this.#retries) {
      const [pool, reason] = key.split('\u0000');
      out.push(`infergate_retries_total{pool="${esc(pool!)}",reason="${esc(reason!)}"} ${n}`);
    }
    out.push('# HELP infergate_stream_breaks_total Streamed answers broken off by their pod, by pool and outcome: resumed on another pod, or ended with an SSE error event.', '# TYPE infergate_stream_breaks_total counter');
    for (const [key, n] of this.#resumed) {
      const [pool, outcome] = key.split('\u0000');
      out.push(`infergate_stream_breaks_total{pool="${esc(pool!)}",outcome="${outcome}"} ${n}`);
    }
    out.push('# HELP infergate_shed_total Sheddable requests refused with 429 because the pool was saturated.', '# TYPE infergate_shed_total counter');
    for (const [pool, n] of this.#shed) out.push(`infergate_shed_total{pool="${esc(pool)}"} ${n}`);
    return out.join('\n') + '\n';
  }
}

function histogram(map: Map<string, Histogram>, key: string, bounds: readonly number[]): Histogram {
  let h = map.get(key);
  if (!h) map.set(key, (h = new Histogram(bounds)));
  return h;
}

function renderHistograms(out: string[], name: string, help: string, map: Map<string, Histogram>): void {
  out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
  for (const [pool, h] of map) {
    let cumulative = 0;
    h.bounds.forEach((b, i) => {
      cumulative += h.counts[i]!;
      out.push(`${name}_bucket{pool="${esc(pool)}",le="${b}"} ${cumulative}`);
    });
    out.push(`${name}_bucket{pool="${esc(pool)}",le="+Inf"} ${h.count}`, `${name}_sum{pool="${esc(pool)}"} ${h.sum}`, `${name}_count{pool="${esc(pool)}"} ${h.count}`);
  }
}

function esc(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}
