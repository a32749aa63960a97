/**
 * Passive health, as Envoy's outlier detection does it: each request's
 * outcome is counted per endpoint, and an endpoint is ejected — taken out of
 * the candidates for a while — when
 *   - a connection to it is refused or reset (`consecutiveConnectFailure`, 1:
 *     a dead pod costs one failed attempt, not five),
 *   - it answers 5xx `consecutive5xx` times in a row (5),
 *   - its failure share over the last `interval` reaches
 *     `failurePercentageThreshold` % with at least `requestVolume` requests
 *     (Envoy's failure_percentage; an erroring pod answers fast, so by queue
 *     length it looks idle — this is what keeps it from drawing traffic),
 *   - or it answered 429/503 with a `Retry-After` (out for that long).
 * The ejection time grows with each ejection (base × 2^(n−1), up to `maxEjectionMs`)
 * and the count decays while the endpoint behaves. At most
 * `maxEjectionPercent` % of a pool's ready endpoints are ejected at once
 * (at least one), and never all of them: better to try than to refuse.
 */
import type { Endpoint, PoolSnapshot } from '../endpoints/types.ts';

export interface OutlierOptions {
  consecutiveConnectFailure: number;
  consecutive5xx: number;
  failurePercentageThreshold: number;
  requestVolume: number;
  /** The window of the failure share, ms. */
  interval: number;
  baseEjectionMs: number;
  maxEjectionMs: number;
  maxEjectionPercent: number;
}

export const DEFAULT_OUTLIER_OPTIONS: OutlierOptions = {
  consecutiveConnectFailure: 1,
  consecutive5xx: 5,
  failurePercentageThreshold: 20,
  requestVolume: 20,
  interval: 10_000,
  baseEjectionMs: 1_000,
  maxEjectionMs: 30_000,
  maxEjectionPercent: 50,
};

/** What one endpoint's last request did. */
export type OutlierOutcome = { kind: 'success' } | { kind: 'connect-failure' } | { kind: 'status'; status: number; retryAfterSeconds?: number };

interface Health {
  connectFailures: number;
  consecutive5xx: number;
  windowStart: number;
  requests: number;
  failures: number;
  /** Ejections so far (decays while healthy); sets the next ejection's length. */
  ejections: number;
  until: number;
  reason: string;
}

export class OutlierDetector {
  readonly #health = new Map<string, Health>();
  readonly #o: OutlierOptions;
  /** Ejections by reason, for metrics. */
  readonly ejectionCounts = new Map<string, number>();
  /** Bumped by every ejection: what `apply` gives for an endpoint list changes only then, or when one ends. */
  #ejectionsVersion = 0;
  /**
   * `apply`'s answer per endpoint list (a snapshot's list is immutable, and a new one is a new array), while no
   * ejection came and none of those it made ended: a request does not pay a pass over the pool, and an
   * endpoint list with an ejection in it is not copied again, on every look.
   */
  readonly #applied = new WeakMap<readonly Endpoint[], { version: number; validUntil: number; endpoints: Endpoint[] }>();

  readonly #listeners = new Set<() => void>();

  constructor(
    private readonly now: () => number = Date.now,
    options: Partial<OutlierOptions> = {},
  ) {
    this.#o = { ...DEFAULT_OUTLIER_OPTIONS, ...options };
  }

  /** Call `listener` at every ejection. Returns a stop function. */
  onEjection(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /**
   * Whether no ejection is in force: `apply` then takes no endpoint out, and
   * only a new ejection (told by onEjection) changes that. While one is, its
   * end may change what `apply` gives with time alone (all ejected are let
   * back, and an end can bring the others' ejections into force).
   */
  settled(): boolean {
    if (this.#health.size === 0) return true;
    const now = this.now();
    for (const h of this.#health.values()) if (h.until > now) return false;
    return true;
  }

  /** Count a request's outcome; may eject the endpoint. */
  observe(endpoint: Endpoint, outcome: OutlierOutcome): void {
    const now = this.now();
    let h = this.#health.get(endpoint.id);
    if (h === undefined) {
      if (outcome.kind === 'success') return;
      h = { connectFailures: 0, consecutive5xx: 0, windowStart: now, requests: 0, failures: 0, ejections: 0, until: 0, reason: '' };
      this.#health.set(endpoint.id, h);
    }
    const o = this.#o;
    if (now - h.windowStart > o.interval) {
      // A window without ejection lets the multiplier decay, as Envoy's does.
      if (h.until < h.windowStart && h.ejections > 0) h.ejections--;
      h.windowStart = now;
      h.requests = 0;
      h.failures = 0;
    }
    h.requests++;
    const failed = outcome.kind === 'connect-failure' || (outcome.kind === 'status' && (outcome.status >= 500 || outcome.status === 429));
    if (failed) h.failures++;
    if (outcome.kind === 'connect-failure') {
      if (++h.connectFailures >= o.consecutiveConnectFailure) return this.#eject(h, now, 'connect-failure');
    } else h.connectFailures = 0;
    if (outcome.kind === 'status' && outcome.status >= 500) {
      if (++h.consecutive5xx >= o.consecutive5xx) return this.#eject(h, now, 'consecutive-5xx');
    } else if (outcome.kind !== 'connect-failure') h.consecutive5xx = 0;
    if (outcome.kind === 'status' && outcome.retryAfterSeconds !== undefined && outcome.retryAfterSeconds > 0) {
      return this.#eject(h, now, 'retry-after', Math.min(outcome.retryAfterSeconds * 1000, o.maxEjectionMs));
    }
    if (h.requests >= o.requestVolume && (100 * h.failures) / h.requests >= o.failurePercentageThreshold) return this.#eject(h, now, 'failure-percentage');
    if (!failed && h.until <= now && h.ejections === 0 && h.failures === 0) this.#health.delete(endpoint.id);
  }

  /** Whether the endpoint is ejected now (for explanations and tests). */
  ejected(endpointId: string): boolean {
    const h = this.#health.get(endpointId);
    return h !== undefined && h.until > this.now();
  }

  #eject(h: Health, now: number, reason: string, ms?: number): void {
    if (h.until > now && reason !== 'retry-after') return;
    h.ejections++;
    const length = ms ?? Math.min(this.#o.maxEjectionMs, this.#o.baseEjectionMs * 2 ** (h.ejections - 1));
    h.until = Math.max(h.until, now + length);
    this.#ejectionsVersion++;
    h.reason = reason;
    h.connectFailures = 0;
    h.consecutive5xx = 0;
    h.windowStart = now;
    h.requests = 0;
    h.failures = 0;
    this.ejectionCounts.set(reason, (this.ejectionCounts.get(reason) ?? 0) + 1);
    for (const listener of this.#listeners) listener();
  }

  /**
   * The snapshot with ejected endpoints marked not ready — at most
   * maxEjectionPercent % of the ready ones (at least one, the most recently
   * ejected last to return), and never all of them.
   */
  apply(snapshot: PoolSnapshot): PoolSnapshot {
    if (this.#health.size === 0) return snapshot;
    const now = this.now();
    const known = this.#applied.get(snapshot.endpoints);
    if (known !== undefined && known.version === this.#ejectionsVersion && now < known.validUntil) {
      return known.endpoints === snapshot.endpoints ? snapshot : { ...snapshot, endpoints: known.endpoints };
    }
    let ready = 0;
    const out: Array<{ i: number; until: number }> = [];
    snapshot.endpoints.forEach((e, i) => {
      if (!e.ready) return;
      ready++;
      const h = this.#health.get(e.id);
      if (h !== undefined && h.until > now) out.push({ i, until: h.until });
    });
    // The answer holds until the first of these ejections ends (or a new one comes).
    let validUntil = Infinity;
    for (const o of out) validUntil = Math.min(validUntil, o.until);
    let endpoints = snapshot.endpoints;
    if (out.length > 0 && out.length < ready) {
      const allowed = Math.max(1, Math.floor((ready * this.#o.maxEjectionPercent) / 100));
      if (out.length > allowed) {
        out.sort((a, b) => b.until - a.until);
        out.length = allowed;
      }
      const copy = snapshot.endpoints.slice();
      for (const { i } of out) copy[i] = { ...copy[i]!, ready: false };
      endpoints = copy;
    }
    this.#applied.set(snapshot.endpoints, { version: this.#ejectionsVersion, validUntil, endpoints });
    return endpoints === snapshot.endpoints ? snapshot : { ...snapshot, endpoints };
  }
}
