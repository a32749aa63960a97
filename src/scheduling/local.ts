/**
 * Scheduling in this process: the endpoint picker over the endpoint source's
 * current snapshot of the pool, with endpoints that keep failing taken out
 * for a while (passive health). The Node and Deno gateways use it; Workers
 * decide in the pool's Durable Object instead (src/runtime/workers/).
 */
import type { Endpoint, EndpointSource } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import type { EndpointScheduling, Outcome, Readiness } from './endpoint-scheduling.ts';
import { OutlierDetector } from './outliers.ts';
import type { Decision, Scheduler, SchedulingRequest } from './scheduler.ts';

export interface LocalSchedulingOptions {
  /** Metrics older than this are stale (the picker's and the readiness probe's horizon), ms. */
  staleAfterMs: number;
  now: () => number;
}

export class LocalScheduling implements EndpointScheduling {
  readonly outliers: OutlierDetector;

  constructor(
    readonly endpoints: EndpointSource,
    readonly scheduler: Scheduler,
    private readonly options: LocalSchedulingOptions,
  ) {
    this.outliers = new OutlierDetector(options.now);
  }

  /** Synchronous unless a producer must wait for something first (a prompt's token ids from the pods). */
  pick(pool: Pool, request: SchedulingRequest): Decision | Promise<Decision> {
    const snapshot = this.outliers.apply(this.endpoints.snapshot(pool));
    const waiting = this.scheduler.prepare?.(pool, snapshot, request);
    if (!waiting) return this.scheduler.decide(pool, snapshot, request);
    // The view may have moved on while waiting: decide on the current one.
    return waiting.then(() => this.scheduler.decide(pool, this.outliers.apply(this.endpoints.snapshot(pool)), request));
  }

  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    this.scheduler.dispatched(pool, endpoint, request);
  }

  firstToken(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    this.scheduler.firstToken?.(pool, endpoint, request);
  }

  completed(pool: Pool, endpoint: Endpoint, request: SchedulingRequest, outcome: Outcome): void {
    this.scheduler.completed(pool, endpoint, request);
    if (outcome.failure === 'connect') this.outliers.failed(endpoint);
    else if (outcome.status > 0) this.outliers.succeeded(endpoint);
  }

  /**
   * Ready while any pool can serve: it has a ready endpoint, and fresh
   * metrics or the FailOpen failure mode (then it routes without them, and
   * says so as degraded). Not ready only when no pool can route at all — a
   * readiness probe must not take every replica out of service because the
   * agent is down while FailOpen pools still serve.
   */
  readiness(pools: readonly Pool[]): Readiness {
    const now = this.options.now();
    const problem = this.endpoints.notReadyReason();
    const down: string[] = [];
    const degraded: string[] = [];
    let serving = 0;
    for (const pool of pools) {
      const snapshot = this.endpoints.snapshot(pool);
      let ready = 0;
      let fresh = 0;
      for (const e of snapshot.endpoints) {
        if (!e.ready) continue;
        ready++;
        if (snapshot.hasMetrics && e.scrapedAt !== undefined && now - e.scrapedAt <= this.options.staleAfterMs) fresh++;
      }
      if (ready === 0) down.push(`pool "${pool.name}" has no ready endpoint`);
      else if (fresh > 0) serving++;
      else if (pool.failureMode === 'FailOpen') {
        serving++;
        degraded.push(pool.name);
      } else down.push(`pool "${pool.name}" has no endpoint with fresh metrics (FailClose)`);
    }
    const why = [...(problem ? [problem] : []), ...down];
    if (serving === 0) return { ready: false, reason: why.join('; ') || `no pool has a ready endpoint (pools: ${pools.map((p) => p.name).join(', ') || 'none'})` };
    if (degraded.length === 0 && why.length === 0) return { ready: true };
    const notes = degraded.length ? [`serving without fresh metrics (FailOpen): ${degraded.join(', ')}`, ...why] : why;
    return { ready: true, reason: notes.join('; '), ...(degraded.length ? { degraded } : {}) };
  }
}
