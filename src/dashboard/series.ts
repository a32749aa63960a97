/**
 * Per-second traffic series for the dashboard: counts and TTFT/latency
 * percentiles of the requests that finished in each second. Recording is on
 * the request path, so it is O(1) and allocation-free: durations go into a
 * fixed log-scale histogram (4% wide buckets), and percentiles are read from
 * it once a second — a dashboard needs the shape, not the microsecond.
 */
import { FEED_LIMITS, type Percentiles, type SeriesPoint, type Totals } from './feed.ts';

/** Smallest bucket bound, ms; bucket i holds (MIN·RATIO^(i−1), MIN·RATIO^i]. */
const MIN_MS = 0.1;
const RATIO = 1.04;
const LOG_RATIO = Math.log(RATIO);
/** 0.1 ms · 1.04^420 ≈ 14 min: anything longer lands in the last bucket. */
const BUCKETS = 420;

export class LatencyHistogram {
  readonly #counts = new Uint32Array(BUCKETS + 1);
  #n = 0;

  add(ms: number): void {
    if (!(ms >= 0)) return; // NaN or negative: a caller's bug, not a duration
    const i = ms <= MIN_MS ? 0 : Math.min(BUCKETS, Math.ceil(Math.log(ms / MIN_MS) / LOG_RATIO));
    this.#counts[i]!++;
    this.#n++;
  }

  get count(): number {
    return this.#n;
  }

  /** p50/p90/p99 as their bucket's upper bound (≤ 4% high), null when empty. */
  percentiles(): Percentiles | null {
    if (this.#n === 0) return null;
    const ranks = [0.5, 0.9, 0.99].map((q) => Math.max(1, Math.ceil(q * this.#n)));
    const out: number[] = [];
    let seen = 0;
    for (let i = 0; i <= BUCKETS && out.length < ranks.length; i++) {
      seen += this.#counts[i]!;
      while (out.length < ranks.length && seen >= ranks[out.length]!) out.push(Math.round(MIN_MS * RATIO ** i * 10) / 10);
    }
    return { p50: out[0]!, p90: out[1]!, p99: out[2]! };
  }

  reset(): void {
    this.#counts.fill(0);
    this.#n = 0;
  }
}

/** How one request ended, as the series counts it. */
export interface RequestRecord {
  /** HTTP status answered; 0 when the upstream exchange failed before any status. */
  status: number;
  /** First byte in to last byte out, ms. */
  durationMs: number;
  /** First byte in to the answer's first byte out, ms (absent when no byte was sent). */
  ttftMs?: number;
  /** Refused by admission control (429) because the pool was saturated. */
  shed?: boolean;
  /** Waited in flow control before being scheduled. */
  queued?: boolean;
}

export class TrafficSeries {
  readonly #keep: number;
  readonly #ttft = new LatencyHistogram();
  readonly #latency = new LatencyHistogram();
  readonly #points: SeriesPoint[] = [];
  /** Points closed since the last `takeClosed()`. */
  #closed: SeriesPoint[] = [];
  #second: number;
  #now = { requests: 0, errors: 0, shed: 0, queued: 0 };
  readonly #totals: Totals = { requests: 0, errors: 0, shed: 0, queued: 0 };

  constructor(now: number, keep: number = FEED_LIMITS.seriesSeconds) {
    this.#keep = keep;
    this.#second = Math.floor(now / 1000) * 1000;
  }

  record(request: RequestRecord, now: number): void {
    if (now >= this.#second + 1000) this.roll(now);
    const c = this.#now;
    c.requests++;
    if (request.shed) c.shed++;
    else {
      if (request.status >= 500 || request.status === 0) c.errors++;
      // Shed answers are instant 429s: they would drag the percentiles of served traffic down.
      this.#latency.add(request.durationMs);
      if (request.ttftMs !== undefined) this.#ttft.add(request.ttftMs);
    }
    if (request.queued) c.queued++;
  }

  /** Close every second that has ended by `now` (seconds without traffic become zero points). */
  roll(now: number): void {
    const current = Math.floor(now / 1000) * 1000;
    if (current <= this.#second) return;
    this.#close(this.#second);
    // A gap longer than the window only needs the window's worth of zeros.
    const firstGap = Math.max(this.#second + 1000, current - this.#keep * 1000);
    for (let t = firstGap; t < current; t += 1000) this.#close(t);
    this.#second = current;
  }

  /** The points closed since the previous call, oldest first. */
  takeClosed(): SeriesPoint[] {
    const closed = this.#closed;
    this.#closed = [];
    return closed;
  }

  /** The kept window, oldest first. */
  points(): SeriesPoint[] {
    return this.#points.slice();
  }

  totals(): Totals {
    return { ...this.#totals };
  }

  #close(t: number): void {
    const c = this.#now;
    const point: SeriesPoint = { t, ...c, ttftMs: this.#ttft.percentiles(), latencyMs: this.#latency.percentiles() };
    this.#totals.requests += c.requests;
    this.#totals.errors += c.errors;
    this.#totals.shed += c.shed;
    this.#totals.queued += c.queued;
    this.#now = { requests: 0, errors: 0, shed: 0, queued: 0 };
    this.#ttft.reset();
    this.#latency.reset();
    this.#points.push(point);
    if (this.#points.length > this.#keep) this.#points.splice(0, this.#points.length - this.#keep);
    this.#closed.push(point);
    if (this.#closed.length > this.#keep) this.#closed.splice(0, this.#closed.length - this.#keep);
  }
}
