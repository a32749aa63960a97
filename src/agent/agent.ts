/**
 * The metrics agent: the model-server pods it knows, scraped on an interval,
 * each kept as an immutable Endpoint that is replaced after every scrape.
 * Subscribers (streams, the embedded source) read views of a pool and wait
 * for changes; they never hold up scraping.
 */
import { poolKey, type AppProtocol, type Endpoint, type PoolSelector } from '../endpoints/types.ts';
import { selectEndpoints, type EndpointEntry } from '../endpoints/file-schema.ts';
import { EngineMismatchError, readEngineMetrics, sameMetrics } from './engines.ts';
import type { MetricsGetter } from './http-get.ts';
import { readServedModels, sameModels } from './served-models.ts';
import { httpOrigin } from '../endpoints/address.ts';

export interface AgentOptions {
  get: MetricsGetter;
  scrapeIntervalMs?: number;
  /** Per scrape; default: the interval × 4, at least 200 ms. */
  scrapeTimeoutMs?: number;
  /** Scrapes in flight at once, across endpoints. */
  maxConcurrency?: number;
  /** Consecutive failed scrapes before an endpoint reads not ready. */
  failureThreshold?: number;
  metricsPath?: string;
  /** How often each pod's /v1/models is read, ms (default 10 000; 0: never). The first read comes before the first metrics. */
  modelsIntervalMs?: number;
  /**
   * A pod whose /metrics page is another engine's than configured: `not-ready`
   * (default) takes it out of the candidates, `ready` only reports it as the
   * endpoint's last error.
   */
  engineMismatch?: 'not-ready' | 'ready';
  now?: () => number;
}

export interface PoolView {
  endpoints: Endpoint[];
  /** Changes when anything but the scrape time of a member changed. */
  changeSeq: number;
  at: number;
}

interface Target {
  endpoint: Endpoint;
  url: string;
  /** How the pod is reached: its pools' protocol (h2c when any pool selecting it says so). */
  protocol: AppProtocol;
  inFlight: boolean;
  failures: number;
  changeSeq: number;
  modelsUrl: string;
  /** When /v1/models was last read (0: never). */
  modelsAt: number;
}

export interface AgentStats {
  scrapes: number;
  failures: number;
  /** Ticks where a pod's previous scrape was still outstanding. */
  skipped: number;
  inFlight: number;
}

export class MetricsAgent {
  readonly scrapeIntervalMs: number;
  readonly #o: Required<Omit<AgentOptions, 'get' | 'scrapeIntervalMs'>> & { get: MetricsGetter };
  #entries: EndpointEntry[] = [];
  #targets = new Map<string, Target>();
  #changeSeq = 0;
  #roundSeq = 0;
  #views = new Map<string, { roundSeq: number; membership: number; view: PoolView }>();
  #membership = 0;
  #waiters = new Set<() => void>();
  readonly #listeners = new Set<() => void>();
  /** Pools being watched, by poolKey, with how many hold each. */
  readonly #held = new Map<string, { pool: PoolSelector; count: number }>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #inFlight = 0;
  readonly stats: AgentStats = { scrapes: 0, failures: 0, skipped: 0, inFlight: 0 };
  /** Told of every finished scrape: the endpoint, how long it took (s), and why it failed if it did (the agent's metrics). */
  onScrape?: (endpointId: string, seconds: number, error: string | undefined) => void;

  constructor(options: AgentOptions) {
    this.scrapeIntervalMs = options.scrapeIntervalMs ?? 50;
    this.#o = {
      get: options.get,
      // Generous: a busy pod answers /metrics late, and a late answer is still news. Scrapes never
      // pile up (a pod with one outstanding is skipped), and staleness is judged by scrape time.
      scrapeTimeoutMs: options.scrapeTimeoutMs ?? Math.max(1000, this.scrapeIntervalMs * 4),
      maxConcurrency: options.maxConcurrency ?? 512,
      failureThreshold: options.failureThreshold ?? 3,
      metricsPath: options.metricsPath ?? '/metrics',
      modelsIntervalMs: options.modelsIntervalMs ?? 10_000,
      engineMismatch: options.engineMismatch ?? 'not-ready',
      now: options.now ?? Date.now,
    };
  }

  start(): void {
    if (this.#timer) return;
    this.#timer = setInterval(() => this.tick(), this.scrapeIntervalMs);
    this.tick();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    for (const wake of this.#waiters) wake();
    this.#waiters.clear();
  }

  /** The endpoints it was last given (a new array on every change). */
  get entries(): readonly EndpointEntry[] {
    return this.#entries;
  }

  /** Replace the known pods (the endpoints file changed). Known pods keep their metrics. */
  setEntries(entries: EndpointEntry[]): void {
    this.#entries = entries;
    this.#reconcile();
  }

  /**
   * Keep scraping the endpoints a pool selects — port-less entries on the
   * pool's target ports, including those added later. Returns a release function.
   */
  acquire(pool: PoolSelector): () => void {
    const key = poolKey(pool);
    const held = this.#held.get(key);
    if (held) held.count++;
    else this.#held.set(key, { pool, count: 1 });
    this.#reconcile();
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const h = this.#held.get(key);
      if (h && --h.count <= 0) this.#held.delete(key);
      this.#reconcile();
    };
  }

  /**
   * The targets: every entry with a port, and every port-less entry on the
   * target ports of each pool held that selects it. Known ones keep their
   * metrics; the others are added or dropped.
   */
  #reconcile(): void {
    const entries = this.#entries;
    const wanted = new Map<string, { entry: EndpointEntry; port: number; protocol: AppProtocol }>();
    for (const e of entries) if (e.port !== undefined) wanted.set(`${e.address}:${e.port}`, { entry: e, port: e.port, protocol: 'http' });
    for (const { pool } of this.#held.values()) {
      const protocol = pool.appProtocol ?? 'http';
      for (const e of selectEndpoints(entries, pool)) {
        const id = `${e.address}:${e.port}`;
        const known = wanted.get(id);
        if (known) {
          // One port speaks one protocol: a pool that says h2c for it is believed (two pools
          // disagreeing about a port is a misconfiguration; the h2c one's scrapes then succeed).
          if (protocol === 'h2c') known.protocol = 'h2c';
          continue;
        }
        const entry = entries.find((x) => x.address === e.address && x.port === undefined);
        if (entry) wanted.set(id, { entry, port: e.port, protocol });
      }
    }
    let changed = false;
    for (const id of [...this.#targets.keys()]) {
      if (wanted.has(id)) continue;
      this.#targets.delete(id);
      changed = true;
    }
    for (const [id, w] of wanted) {
      const t = this.#targets.get(id);
      if (t) {
        if (t.protocol !== w.protocol) {
          // Failures over the other protocol say nothing of this one.
          t.protocol = w.protocol;
          t.failures = 0;
        }
        if (JSON.stringify(t.endpoint.labels) !== JSON.stringify(w.entry.labels) || t.endpoint.engine !== w.entry.engine) {
          this.#replace(t, { ...t.endpoint, labels: w.entry.labels, engine: w.entry.engine }, true);
          changed = true;
        }
      } else {
        this.#addTarget(w.entry, w.port, w.protocol);
        changed = true;
      }
    }
    if (changed) this.#membershipChanged();
  }

  /** The endpoints a pool selects, as of the last scrapes. Cached until the next scrape lands. */
  view(pool: PoolSelector): PoolView {
    const key = poolKey(pool);
    const cached = this.#views.get(key);
    if (cached && cached.roundSeq === this.#roundSeq && cached.membership === this.#membership) return cached.view;
    const endpoints: Endpoint[] = [];
    let changeSeq = this.#membership;
    for (const e of selectEndpoints(this.#entries, pool)) {
      const t = this.#targets.get(`${e.address}:${e.port}`);
      if (!t) continue;
      endpoints.push(t.endpoint);
      if (t.changeSeq > changeSeq) changeSeq = t.changeSeq;
    }
    const view = { endpoints, changeSeq, at: this.#o.now() };
    this.#views.set(key, { roundSeq: this.#roundSeq, membership: this.#membership, view });
    return view;
  }

  /** Resolves at the next change, after `timeoutMs`, or when `signal` aborts — whichever is first. */
  waitForChange(timeoutMs: number, signal?: AbortSignal): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.#waiters.delete(done);
        signal?.removeEventListener('abort', done);
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, timeoutMs));
      this.#waiters.add(done);
      signal?.addEventListener('abort', done, { once: true });
    });
  }

  get endpointCount(): number {
    return this.#targets.size;
  }

  /** Every endpoint scraped, whichever pools it belongs to (for diagnostics). */
  get endpoints(): Endpoint[] {
    return [...this.#targets.values()].map((t) => t.endpoint);
  }

  /** Start a scrape of every pod that has none outstanding. */
  tick(): void {
    for (const t of this.#targets.values()) {
      if (t.inFlight) {
        this.stats.skipped++;
        continue;
      }
      if (this.#inFlight >= this.#o.maxConcurrency) {
        this.stats.skipped++;
        continue;
      }
      void this.#scrape(t);
    }
  }

  async #scrape(t: Target): Promise<void> {
    t.inFlight = true;
    this.#inFlight++;
    this.stats.inFlight = this.#inFlight;
    let text: string | undefined;
    let error: string | undefined;
    const models = await this.#readModels(t);
    const started = performance.now();
    try {
      text = await this.#o.get(t.url, this.#o.scrapeTimeoutMs, t.protocol);
    } catch (err) {
      error = (err as Error).message || 'scrape failed';
    } finally {
      t.inFlight = false;
      this.#inFlight--;
    }
    if (this.#targets.get(t.endpoint.id) !== t) return; // removed meanwhile
    this.stats.scrapes++;
    const prev = t.endpoint;
    const now = this.#o.now();
    if (text !== undefined) {
      let metrics;
      try {
        metrics = readEngineMetrics(prev.engine, text);
      } catch (err) {
        if (err instanceof EngineMismatchError) {
          this.stats.failures++;
          const ready = this.#o.engineMismatch === 'ready';
          this.#replace(t, { ...prev, ready, lastError: err.message }, ready !== prev.ready || err.message !== prev.lastError);
          return;
        }
        error = `unreadable metrics: ${(err as Error).message}`;
      }
      if (metrics) {
        this.onScrape?.(t.endpoint.id, (performance.now() - started) / 1000, undefined);
        t.failures = 0;
        const modelsChanged = models !== undefined && !sameModels(prev.models, models);
        const changed = !prev.ready || prev.lastError !== undefined || !sameMetrics(prev.metrics, metrics) || modelsChanged;
        const { lastError: _drop, ...rest } = prev;
        this.#replace(t, { ...rest, ...(modelsChanged ? { models } : {}), ready: true, metrics: changed ? metrics : prev.metrics, scrapedAt: now }, changed);
        return;
      }
    }
    this.stats.failures++;
    this.onScrape?.(t.endpoint.id, (performance.now() - started) / 1000, error ?? 'scrape failed');
    // Only a pod that cannot be reached is taken for gone; one that answers slowly or
    // badly keeps serving, its metrics age, and the picker treats it as stale.
    if (unreachable(error)) t.failures++;
    const ready = t.failures < this.#o.failureThreshold;
    this.#replace(t, { ...prev, ready, lastError: error }, ready !== prev.ready || error !== prev.lastError);
  }

  /** The pod's /v1/models when due (undefined: not due, unreadable, or not an OpenAI list); never a scrape failure. */
  async #readModels(t: Target): Promise<Endpoint['models']> {
    const every = this.#o.modelsIntervalMs;
    if (every <= 0 || (t.modelsAt > 0 && this.#o.now() - t.modelsAt < every)) return undefined;
    t.modelsAt = this.#o.now();
    try {
      return readServedModels(await this.#o.get(t.modelsUrl, this.#o.scrapeTimeoutMs, t.protocol));
    } catch {
      return undefined; // a server without /v1/models is still scraped for its metrics
    }
  }

  #replace(t: Target, endpoint: Endpoint, changed: boolean): void {
    t.endpoint = endpoint;
    this.#roundSeq++;
    if (changed) {
      t.changeSeq = ++this.#changeSeq;
      this.#wake();
    }
  }

  #addTarget(entry: EndpointEntry, port: number, protocol: AppProtocol): Target {
    const id = `${entry.address}:${port}`;
    const origin = httpOrigin(entry.address, port);
    const t: Target = {
      endpoint: { id, address: entry.address, port, labels: entry.labels, ready: true, engine: entry.engine },
      url: `${origin}${this.#o.metricsPath}`,
      protocol,
      modelsUrl: `${origin}/v1/models`,
      modelsAt: 0,
      inFlight: false,
      failures: 0,
      changeSeq: 0,
    };
    this.#targets.set(id, t);
    return t;
  }

  #membershipChanged(): void {
    this.#membership = ++this.#changeSeq;
    this.#views.clear();
    this.#wake();
  }

  #wake(): void {
    const waiters = [...this.#waiters];
    this.#waiters.clear();
    for (const wake of waiters) wake();
    for (const listener of this.#listeners) listener();
  }

  /** Call `listener` on every change of any endpoint (metrics, readiness, membership). Returns a stop function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}

/** Connection-level failures (refused, reset, no route, no such host), as the getters describe them. */
function unreachable(error: string | undefined): boolean {
  return error !== undefined && /ECONNREFUSED|ECONNRESET|EHOSTUNREACH|ENETUNREACH|ENOTFOUND|EAI_AGAIN|UND_ERR_SOCKET|refused|socket hang up/i.test(error);
}
