/**
 * A ready-made DashboardSource: the gateway tells it how each request ended
 * and what was decided, and gives it two functions that read its pools and
 * routing table; it keeps the window the page needs and, while at least one
 * page watches, sends the page its updates on a tick. Nobody watching costs a
 * histogram increment per request and no timer.
 */
import { FEED_LIMITS, type DashboardSource, type DecisionView, type FeedUpdate, type PoolView, type RoutingView, type StateEvent } from './feed.ts';
import { TrafficSeries, type RequestRecord } from './series.ts';

export interface DashboardRecorderOptions {
  /** Every pool as it is now; read on each tick while a page watches. */
  pools: () => PoolView[];
  /** The active routing table as a view (see `routingView`). */
  routing: () => RoutingView;
  /** Clock, ms since epoch (tests pass their own). */
  now?: () => number;
  /** How often pools are sent and seconds closed, ms (default 500). */
  tickMs?: number;
  /** At most this many explanations a second are asked for (default 10). */
  explanationsPerSecond?: number;
}

export class DashboardRecorder implements DashboardSource {
  readonly #options: DashboardRecorderOptions;
  readonly #now: () => number;
  readonly #series: TrafficSeries;
  readonly #listeners = new Set<(event: FeedUpdate) => void>();
  readonly #decisions: DecisionView[] = [];
  #unsent: DecisionView[] = [];
  #seq = 0;
  #timer: ReturnType<typeof setInterval> | undefined;
  #explainTokens = Infinity;
  #explainRefilledAt = 0;

  constructor(options: DashboardRecorderOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#series = new TrafficSeries(this.#now());
  }

  /** Whether a page is watching (skip building decisions nobody will see). */
  get watching(): boolean {
    return this.#listeners.size > 0;
  }

  /** A request ended (call once per request, shed ones too). */
  record(request: RequestRecord): void {
    this.#series.record(request, this.#now());
  }

  /**
   * Whether to ask the scheduler to explain this request's decision: yes
   * while a page watches, up to `explanationsPerSecond`, since explaining
   * costs a few microseconds a decision.
   */
  wantsExplanation(): boolean {
    if (this.#listeners.size === 0) return false;
    // A token bucket, refilled continuously: under steady traffic the explained decisions are spread over each
    // second, not the first N of it (the page shows the newest decisions, which then always include some).
    const rate = this.#options.explanationsPerSecond ?? 10;
    const now = this.#now();
    this.#explainTokens = Math.min(rate, this.#explainTokens + ((now - this.#explainRefilledAt) * rate) / 1000);
    this.#explainRefilledAt = now;
    if (this.#explainTokens < 1) return false;
    this.#explainTokens--;
    return true;
  }

  /** A scheduling decision was made (kept for the page; its `seq` is assigned here). */
  decision(decision: Omit<DecisionView, 'seq'>): void {
    const view: DecisionView = { seq: ++this.#seq, ...decision };
    this.#decisions.push(view);
    if (this.#decisions.length > FEED_LIMITS.decisions) this.#decisions.shift();
    if (this.#listeners.size === 0) return;
    this.#unsent.push(view);
    if (this.#unsent.length > FEED_LIMITS.decisions) this.#unsent.shift();
  }

  /** The routing table changed: send its new view now. */
  routingChanged(): void {
    if (this.#listeners.size === 0) return;
    this.#emit({ type: 'routing', routing: this.#options.routing() });
  }

  state(): StateEvent {
    const now = this.#now();
    this.#series.roll(now);
    return {
      type: 'state',
      at: now,
      pools: this.#options.pools(),
      series: this.#series.points(),
      totals: this.#series.totals(),
      decisions: this.#decisions.slice(),
      routing: this.#options.routing(),
    };
  }

  subscribe(listener: (event: FeedUpdate) => void): () => void {
    this.#listeners.add(listener);
    if (this.#timer === undefined) {
      this.#series.takeClosed(); // points closed while nobody watched are in the next state()
      this.#timer = setInterval(() => this.tick(), this.#options.tickMs ?? 500);
    }
    return () => {
      this.#listeners.delete(listener);
      if (this.#listeners.size === 0) this.close();
    };
  }

  /** Send what changed since the previous tick (the timer calls it; tests may too). */
  tick(): void {
    const now = this.#now();
    this.#series.roll(now);
    const totals = this.#series.totals();
    for (const point of this.#series.takeClosed()) this.#emit({ type: 'point', point, totals });
    if (this.#unsent.length) {
      const decisions = this.#unsent;
      this.#unsent = [];
      this.#emit({ type: 'decisions', decisions });
    }
    this.#emit({ type: 'pools', at: now, pools: this.#options.pools() });
  }

  /** Stop the timer (it restarts when a page subscribes again). */
  close(): void {
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#unsent = [];
  }

  #emit(event: FeedUpdate): void {
    for (const listener of this.#listeners) listener(event);
  }
}
