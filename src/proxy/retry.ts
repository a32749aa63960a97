/**
 * When the proxy tries another endpoint, before any byte of the answer has
 * reached the client: the statuses that mean "not this pod, not now" (Envoy's
 * `5xx` and `retriable-status-codes` with 429) and connections refused, bounded
 * per request by the attempts and per pool by a retry budget — at most
 * `budgetPercent` % of the pool's requests in flight may be retries (at least
 * `minRetryConcurrency`), as Envoy's retry budgets do, so a sick pool is not
 * hammered by retries of retries.
 */

export interface RetryOptions {
  /** Upstream answer statuses retried on another endpoint. */
  retryStatuses: readonly number[];
  /** Retries in flight per pool: this share of its requests in flight … */
  budgetPercent: number;
  /** … but never fewer than this many. */
  minRetryConcurrency: number;
}

export const DEFAULT_RETRY_OPTIONS: RetryOptions = { retryStatuses: [429, 500, 502, 503, 504], budgetPercent: 20, minRetryConcurrency: 3 };

interface PoolLoad {
  active: number;
  retrying: number;
}

export class RetryBudget {
  readonly #pools = new Map<string, PoolLoad>();
  readonly #statuses: ReadonlySet<number>;

  constructor(readonly options: RetryOptions = DEFAULT_RETRY_OPTIONS) {
    this.#statuses = new Set(options.retryStatuses);
  }

  retriable(status: number): boolean {
    return this.#statuses.has(status);
  }

  /** A request starts (returns its pool's counters: pass them back to `done`). */
  begin(pool: string): PoolLoad {
    let p = this.#pools.get(pool);
    if (p === undefined) this.#pools.set(pool, (p = { active: 0, retrying: 0 }));
    p.active++;
    return p;
  }

  /** Whether one more retry fits the pool's budget now; if so it is counted until `retried`. */
  tryRetry(p: PoolLoad): boolean {
    const allowed = Math.max(this.options.minRetryConcurrency, (p.active * this.options.budgetPercent) / 100);
    if (p.retrying + 1 > allowed) return false;
    p.retrying++;
    return true;
  }

  /** The retry attempt got its answer (or failed). */
  retried(p: PoolLoad): void {
    p.retrying--;
  }

  done(p: PoolLoad): void {
    p.active--;
  }
}

/** A `Retry-After` value in seconds (delta-seconds or an HTTP date), or undefined. */
export function retryAfterSeconds(value: string | null, now: number): number | undefined {
  if (!value) return undefined;
  const v = value.trim();
  if (/^\d{1,9}$/.test(v)) return Number(v);
  if (!/[A-Za-z]/.test(v)) return undefined;
  const at = Date.parse(v);
  return Number.isNaN(at) ? undefined : Math.max(0, Math.ceil((at - now) / 1000));
}
