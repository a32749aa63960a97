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
import type { ServedModelEntry } from '../../scheduling/served-models.ts';
import type { ExecutionContext } from './types.ts';

/** Where a pool's decisions are made: its Durable Object's stub, or a local decider. */
export interface PoolTarget {
  /** `counts`: whether a route counts as the dispatch to its endpoint (false for a resume: the isolate reports the one it uses). */
  decide(pool: Pool, request: SchedulingRequest, counts?: boolean): Promise<Decision>;
  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): Promise<void> | void;
  /** `key`: the request's in-flight key (SchedulingRequest.key), as its dispatch was counted under. */
  completed(pool: Pool, endpointId: string, key: string, outcome: Outcome): Promise<void> | void;
  readiness(pool: Pool): Promise<Readiness>;
  /** What the pool's pods serve, from the snapshot the decisions use. */
  servedModels(pool: Pool): Promise<ServedModelEntry[]>;
}

interface Tracked {
  ctx: ExecutionContext;
  /** A decision already counted a dispatch: later ones (resumes) must not count an endpoint again. */
  decided: boolean;
  /** The endpoint whose dispatch the decision already counted (until forward() reports it). */
  counted?: string;
  /** One target per pool for the whole request: a fresh stub per call would let its reports overtake each other. */
  targets: Map<string, PoolTarget>;
  /** The request's reports, sent one after the other. */
  reports: Promise<void>;
  /** Dispatches not yet completed: a pod's end may come after the observers heard the client's (a client that left). */
  open: number;
  /** Called when `open` drops to 0 after `finished`. */
  drained?: () => void;
}

/** How long a finished request waits for its pods' completions before its tracking is let go (the object's lease covers the rest). */
const DRAIN_MS = 10_000;

/** How many finished requests' keys are remembered, to refuse their late decisions (see `finished`). */
const OVER_KEYS = 1024;

export class EdgeScheduler implements EndpointScheduling {
  readonly #requests = new Map<string, Tracked>();
  /** Requests that began here and are over, most recent last: a decision for one would count a dispatch nobody completes. */
  readonly #over = new Set<string>();
  /** The pods' models per pool, as last asked (GET /v1/models asks first: the director's port is synchronous). */
  readonly #served = new Map<string, ServedModelEntry[]>();

  constructor(private readonly target: (pool: Pool) => PoolTarget) {}

  /** A request starts (`key`: its in-flight key, SchedulingRequest.key): reports about it are kept alive by its context. */
  begin(key: string, ctx: ExecutionContext): void {
    this.#requests.set(key, { ctx, decided: false, targets: new Map(), reports: Promise.resolve(), open: 0 });
  }

  /**
   * The observers heard the request finish: nothing more will be reported. Tracking lasts until here, not until
   * the answer or a completion, because a broken stream is resumed (a new decide and dispatch) after both.
   * Resolves once its reports have been sent.
   */
  async finished(key: string): Promise<void> {
    const r = this.#requests.get(key);
    if (!r) return;
    // From here on no decision is made for it: a stream whose client left may still see its pod's stream end and
    // try to resume it, and that decision would count a dispatch (after the tracking is gone, as a first one) whose
    // completion is never reported once the request's context is over — the pool's object would count it until its lease.
    this.#over.add(key);
    if (this.#over.size > OVER_KEYS) this.#over.delete(this.#over.values().next().value!);
    if (r.open > 0) {
      let timer: ReturnType<typeof setTimeout> | undefined;
      await new Promise<void>((resolve) => {
        r.drained = resolve;
        timer = setTimeout(resolve, DRAIN_MS);
      });
      clearTimeout(timer);
    }
    this.#requests.delete(key);
    await r.reports;
  }

  async pick(pool: Pool, request: SchedulingRequest): Promise<Decision> {
    if (this.#over.has(requestKey(request))) return { kind: 'unavailable', reason: 'the request is over (its client left or its answer ended)' };
    const r = this.#requests.get(requestKey(request));
    const counts = !r?.decided;
    let decision: Decision;
    try {
      decision = await this.#target(r, pool).decide(pool, trimmed(request), counts);
    } catch (err) {
      // The pool's object is unreachable (overloaded, being moved): answer 503, retryable.
      return { kind: 'unavailable', reason: `the pool's decision object did not answer (${(err as Error).message})` };
    }
    if (r && counts && decision.kind === 'route') {
      r.decided = true;
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
    if (r) {
      r.counted = undefined;
      r.open++;
    }
    this.#report(r, pool, (t) => t.dispatched(pool, endpoint, trimmed(request)));
  }

  /** The Durable Object is not told of first tokens (a round trip per request for a small gain in prefill accounting). */
  firstToken(): void {}

  completed(pool: Pool, endpoint: Endpoint, request: SchedulingRequest, outcome: Outcome): void {
    const r = this.#requests.get(requestKey(request));
    this.#report(r, pool, (t) => t.completed(pool, endpoint.id, requestKey(request), outcome));
    if (r && --r.open <= 0) r.drained?.();
  }

  /** Ask each pool's object what its pods serve, for `servedModels` (a pool that does not answer keeps what it said last). */
  async refreshServedModels(pools: readonly Pool[]): Promise<void> {
    await Promise.all(
      pools.map(async (pool) => {
        try {
          this.#served.set(pool.name, await this.target(pool).servedModels(pool));
        } catch (err) {
          console.error(JSON.stringify({ level: 'warn', msg: 'could not ask the pool object for its models', pool: pool.name, error: String(err) }));
        }
      }),
    );
  }

  servedModels(pools: readonly Pool[]): ServedModelEntry[] {
    const byId = new Map<string, ServedModelEntry>();
    for (const pool of pools) {
      for (const m of this.#served.get(pool.name) ?? []) {
        const entry = byId.get(m.id);
        if (!entry) byId.set(m.id, { ...m, pools: [...m.pools] });
        else for (const p of m.pools) if (!entry.pools.includes(p)) entry.pools.push(p);
      }
    }
    return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
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

  #target(r: Tracked | undefined, pool: Pool): PoolTarget {
    if (!r) return this.target(pool);
    let t = r.targets.get(pool.name);
    if (!t) r.targets.set(pool.name, (t = this.target(pool)));
    return t;
  }

  #report(r: Tracked | undefined, pool: Pool, call: (target: PoolTarget) => Promise<void> | void): void {
    const target = this.#target(r, pool);
    const send = () =>
      Promise.resolve()
        .then(() => call(target))
        .catch((err: unknown) => console.error(JSON.stringify({ level: 'warn', msg: 'could not report to the pool object', error: String(err) })));
    if (!r) {
      void send();
      return;
    }
    r.reports = r.reports.then(send);
    r.ctx.waitUntil(r.reports);
  }
}

/** The kernel hashes at most INPUT_BYTES of the prompt; a character is at least a byte, so nothing it reads is cut. */
function trimmed(request: SchedulingRequest): SchedulingRequest {
  return request.prompt.length > INPUT_BYTES ? { ...request, prompt: request.prompt.slice(0, INPUT_BYTES) } : request;
}
