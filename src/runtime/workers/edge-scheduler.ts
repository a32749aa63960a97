/**
 * The isolate's side of scheduling at the edge — the director's scheduling
 * port, asynchronous here: decisions come from the pool's Durable Object (or,
 * in `isolate` mode, from a decider in this isolate). The decision already
 * counted the dispatch to the chosen endpoint; fallbacks tried and every
 * completion (with its outcome, for passive health) are reported back, kept
 * alive past the response with the request's `waitUntil`.
 */
import type { Endpoint } from '../../endpoints/types.ts';
import type { EndpointScheduling, Outcome, Readiness } from '../../scheduling/endpoint-scheduling.ts';
import type { Pool } from '../../routing/schema.ts';
import { INPUT_BYTES } from '../../scheduling/kernel/layout.ts';
import { requestKey, type Decision, type SchedulingRequest } from '../../scheduling/scheduler.ts';
import type { ExecutionContext } from './types.ts';

/** Where a pool's decisions are made: its Durable Object's stub, or a local decider. */
export interface PoolTarget {
  decide(pool: Pool, request: SchedulingRequest): Promise<Decision>;
  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): Promise<void> | void;
  /** `key`: the request's in-flight key (SchedulingRequest.key), as its dispatch was counted under. */
  completed(pool: Pool, endpointId: string, key: string, outcome: Outcome): Promise<void> | void;
  readiness(pool: Pool): Promise<Readiness>;
}

interface Tracked {
  ctx: ExecutionContext;
  /** The endpoint whose dispatch the decision already counted (until forward() reports it). */
  counted?: string;
  open: number;
  answered: boolean;
}

export class EdgeScheduler implements EndpointScheduling {
  readonly #requests = new Map<string, Tracked>();

  constructor(private readonly target: (pool: Pool) => PoolTarget) {}

  /** A request starts (`key`: its in-flight key, SchedulingRequest.key): reports about it are kept alive by its context. */
  begin(key: string, ctx: ExecutionContext): void {
    this.#requests.set(key, { ctx, open: 0, answered: false });
  }

  /** The gateway has answered (a streamed body may still be running). */
  answered(key: string): void {
    const r = this.#requests.get(key);
    if (!r) return;
    r.answered = true;
    if (r.open <= 0) this.#requests.delete(key);
  }

  async pick(pool: Pool, request: SchedulingRequest): Promise<Decision> {
    let decision: Decision;
    try {
      decision = await this.target(pool).decide(pool, trimmed(request));
    } catch (err) {
      // The pool's object is unreachable (overloaded, being moved): answer 503, retryable.
      return { kind: 'unavailable', reason: `the pool's decision object did not answer (${(err as Error).message})` };
    }
    const r = this.#requests.get(requestKey(request));
    if (r && decision.kind === 'route') {
      r.counted = decision.endpoint.id;
      r.open++;
    }
    return decision;
  }

  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    const r = this.#requests.get(requestKey(request));
    if (r?.counted === endpoint.id) {
      r.counted = undefined;
      return;
    }
    if (r) r.open++;
    this.#report(r, () => this.target(pool).dispatched(pool, endpoint, trimmed(request)));
  }

  /** The Durable Object is not told of first tokens (a round trip per request for a small gain in prefill accounting). */
  firstToken(): void {}

  completed(pool: Pool, endpoint: Endpoint, request: SchedulingRequest, outcome: Outcome): void {
    const r = this.#requests.get(requestKey(request));
    this.#report(r, () => this.target(pool).completed(pool, endpoint.id, requestKey(request), outcome));
    if (!r) return;
    r.open--;
    if (r.open <= 0 && r.answered) this.#requests.delete(requestKey(request));
  }

  /** Ready while any pool's object says its pool can serve. */
  async readiness(pools: readonly Pool[]): Promise<Readiness> {
    const results = await Promise.all(pools.map(async (pool) => ({ pool: pool.name, ...(await this.target(pool).readiness(pool)) })));
    const serving = results.filter((r) => r.ready);
    if (serving.length === 0) return { ready: false, reason: results.map((r) => `${r.pool}: ${r.reason}`).join('; ') || 'no pools' };
    const degraded = serving.flatMap((r) => r.degraded ?? []);
    const notes = results.filter((r) => r.reason).map((r) => `${r.pool}: ${r.reason}`);
    return { ready: true, ...(notes.length ? { reason: notes.join('; ') } : {}), ...(degraded.length ? { degraded } : {}) };
  }

  #report(r: Tracked | undefined, call: () => Promise<void> | void): void {
    const done = Promise.resolve()
      .then(call)
      .catch((err: unknown) => console.error(JSON.stringify({ level: 'warn', msg: 'could not report to the pool object', error: String(err) })));
    r?.ctx.waitUntil(done);
  }
}

/** The kernel hashes at most INPUT_BYTES of the prompt; a character is at least a byte, so nothing it reads is cut. */
function trimmed(request: SchedulingRequest): SchedulingRequest {
  return request.prompt.length > INPUT_BYTES ? { ...request, prompt: request.prompt.slice(0, INPUT_BYTES) } : request;
}
