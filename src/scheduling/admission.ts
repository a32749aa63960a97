/**
 * Admission with flow control (src/flowcontrol/): the saturation detector
 * that decides when requests wait, fed by the pool's snapshot and this
 * gateway's own in-flight counts, and the wake-ups that dispatch them.
 *
 * The detector is llm-d's two, plus one of infergate's. Utilization, as
 * llm-d's utilization-detector: the pool is saturated when every fresh ready
 * endpoint is at its queue threshold (waiting, plus this gateway's dispatches
 * not yet in its metrics) or its KV-cache threshold — while one has room,
 * requests go (the picker sends them there). Concurrency, as llm-d's
 * concurrency-detector: this gateway's requests in flight reaching
 * `maxConcurrency` per ready endpoint. Prefill: an endpoint whose prompt
 * tokens still to prefill (this gateway's, the prefill-work producer's count)
 * reach `maxPendingPrefillTokens` — about one engine step's prefill budget —
 * has no room: a model server admits every request it has KV for into its
 * batch, so its queue stays empty while new prompts wait behind the prefill
 * already there; held in the gateway instead, they are sent in priority and
 * fairness order, a step's worth at a time, as first tokens free the budget.
 * Requests admitted but not yet dispatched take up the room first, so one
 * wake-up lets through what fits and no more.
 */
import type { EndpointSource, PoolSnapshot } from '../endpoints/types.ts';
import type { FlowControlConfig } from '../flowcontrol/config.ts';
import { FlowController, type AdmitResult, type FlowRequest, type IdlePool, type Pending, type PoolState } from '../flowcontrol/controller.ts';
import type { Pool } from '../routing/schema.ts';
import type { SaturationConfig } from './config.ts';
import type { Scheduler, SchedulingRequest } from './scheduler.ts';
import type { Endpoint } from '../endpoints/types.ts';
import { FlowIsolation, type Allowed } from '../flowcontrol/isolation.ts';

export interface AdmissionOptions {
  flowControl: FlowControlConfig;
  saturation: SaturationConfig;
  /** Requests of this gateway in flight per ready endpoint at which the pool counts as saturated (0: no limit). */
  maxConcurrency: number;
  /** Prompt tokens not yet prefilled per endpoint at which it has no room (0: not counted). */
  maxPendingPrefillTokens?: number;
  now: () => number;
}

export class FlowAdmission {
  readonly controller: FlowController;
  readonly isolation: FlowIsolation | undefined;
  readonly #pools = new Map<string, Pool>();
  /** The pool last admitted to (most requests go where the last one went: no map write for them), and its flow state. */
  #last: Pool | undefined;
  #lastFlow: IdlePool | undefined;
  /** The pools of the table last applied, by name (undefined until one is: then each request's pool is kept). */
  #tablePools: ReadonlyMap<string, Pool> | undefined;
  readonly #stop: (() => void) | undefined;

  constructor(
    private readonly endpoints: EndpointSource,
    private readonly scheduler: Scheduler,
    private readonly snapshot: (pool: Pool) => PoolSnapshot,
    private readonly options: AdmissionOptions,
  ) {
    // Flow isolation: while the pool is contended, flows over their share stay off the endpoints reserved for the others.
    const isolation = options.flowControl.isolation && new FlowIsolation(options.flowControl.isolation, options.now, (pool, flow) => this.controller.queuedOf(pool, flow));
    this.isolation = isolation;
    this.controller = new FlowController(
      options.flowControl,
      (pool, extra, flow) => this.#state(pool, extra, flow),
      options.now,
      isolation && ((pool, flow) => (isolation.overShare(pool, flow) ? 'over' : 'within')),
    );
    // Fresh metrics may free capacity: dispatch what waits (a few comparisons when nothing does).
    this.#stop = endpoints.onChange?.(() => {
      for (const name of this.#pools.keys()) if (this.controller.waiting(name)) this.controller.wake(name);
    });
  }

  admit(pool: Pool, request: SchedulingRequest, bytes: number, signal: FlowRequest['signal']): AdmitResult | Promise<AdmitResult> {
    const known = this.#idle(pool);
    if (known === 'passes') return this.controller.passIdle(this.#lastFlow!, bytes);
    return this.controller.admit(this.#arrived(pool, request, bytes, signal), known);
  }

  /** `admit` for a synchronous caller (see FlowController.admitThen). */
  admitThen(pool: Pool, request: SchedulingRequest, bytes: number, signal: FlowRequest['signal'], then: (r: AdmitResult) => void): AdmitResult | undefined {
    const known = this.#idle(pool);
    if (known === 'passes') return this.controller.passIdle(this.#lastFlow!, bytes);
    return this.controller.admitThen(this.#arrived(pool, request, bytes, signal), then, known);
  }

  /**
   * Idle flow control's whole cost: with nothing waiting in the pool and room
   * at its first endpoint, the request passes (`passes`), touching no more
   * than it must — without flow isolation the detector does not depend on the
   * flow. (After a 1 MB prompt's hashing, each object looked at is a cache
   * miss.) Else the detector's answer if it was asked, for the controller.
   */
  #idle(pool: Pool): 'passes' | PoolState | undefined {
    if (pool !== this.#last) this.#remember(pool);
    const p = this.#lastFlow!;
    if (this.isolation || p.queues.count > 0) return undefined;
    const state = this.#stateOf(pool, p.pending);
    return state === 'available' ? 'passes' : state;
  }

  #arrived(pool: Pool, request: SchedulingRequest, bytes: number, signal: FlowRequest['signal']): FlowRequest {
    this.isolation?.arrived(pool.name, flowOf(request), request.prompt.length);
    return flowRequest(pool, request, bytes, signal);
  }

  #remember(pool: Pool): void {
    // The table's object for the name: a request resolved against an older table does not bring its pool back.
    this.#pools.set(pool.name, this.#tablePools?.get(pool.name) ?? pool);
    this.#last = pool;
    this.#lastFlow = this.controller.poolFlow(pool.name);
  }

  /**
   * A routing table was applied. The detector then judges a pool that waits
   * by the table's object for its name (its selector or profile may have
   * changed), not by the one of the request that first came; a pool the table
   * no longer has is forgotten. What waits is looked at again at once: in a
   * pool that is gone nothing holds it back, and scheduling answers for it
   * (a pool without endpoints is a 503), instead of it waiting out its TTL.
   */
  tableApplied(pools: Iterable<Pool>): void {
    const byName = new Map<string, Pool>();
    for (const p of pools) byName.set(p.name, p);
    this.#tablePools = byName;
    const looked = [...this.#pools.keys()];
    for (const name of looked) {
      const fresh = byName.get(name);
      if (fresh) this.#pools.set(name, fresh);
      else this.#pools.delete(name);
    }
    for (const name of looked) if (this.controller.waiting(name)) this.controller.wake(name);
  }

  wake(pool: Pool): void {
    // A completion on the idle pool: nothing waits, nothing to look up.
    if (pool === this.#last && this.#lastFlow!.queues.count === 0) return;
    this.controller.wake(pool.name);
  }

  /**
   * The snapshot with only the endpoints flow isolation lets this request
   * use (as is without isolation or restriction). The reserve is the pool's:
   * `whole` is the pool's snapshot when `snapshot` is a caller's subset of it.
   */
  restrict(pool: Pool, snapshot: PoolSnapshot, request: SchedulingRequest, whole: PoolSnapshot = snapshot): PoolSnapshot {
    if (!this.isolation) return snapshot;
    const allowed = this.#allowed(pool.name, whole, flowOf(request));
    if (!allowed) return snapshot;
    const endpoints = snapshot.endpoints.filter((e) => allowed(e.id));
    return endpoints.some((e) => e.ready) ? { ...snapshot, endpoints } : snapshot;
  }

  /** For a decision's explanation: the request's flow, whether it is over its share, the reserve, and the ready endpoints it may use — while isolation restricts the pool. */
  explainIsolation(pool: Pool, request: SchedulingRequest): { flow: string; overShare: boolean; reserve: readonly string[]; allowed: string[] } | undefined {
    const reserve = this.isolation?.reserved(pool.name);
    if (!reserve?.length) return undefined;
    const flow = flowOf(request);
    const snapshot = this.snapshot(pool);
    const allowed = this.#allowed(pool.name, snapshot, flow);
    const usable = snapshot.endpoints.filter((e) => e.ready && (!allowed || allowed(e.id))).map((e) => e.id);
    return { flow, overShare: this.isolation!.overShare(pool.name, flow), reserve, allowed: usable };
  }

  /** The request went to this endpoint (flow isolation counts each flow's requests in flight, and where). */
  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    this.isolation?.dispatched(pool.name, endpoint.id, flowOf(request), request.prompt.length);
  }

  completed(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    this.isolation?.completed(pool.name, endpoint.id, flowOf(request));
  }

  #allowed(pool: string, snapshot: PoolSnapshot, flow: string): Allowed {
    const ready: string[] = [];
    for (const e of snapshot.endpoints) if (e.ready) ready.push(e.id);
    return this.isolation!.allowed(pool, flow, ready);
  }

  close(): void {
    this.#stop?.();
  }

  #state(poolName: string, extra: Pending, flow?: string): PoolState {
    const pool = this.#pools.get(poolName);
    return pool ? this.#stateOf(pool, extra, flow) : 'available';
  }

  #stateOf(pool: Pool, extra: Readonly<Pending>, flow?: string): PoolState {
    const poolName = pool.name;
    const snapshot = this.snapshot(pool);
    let allowed: Allowed;
    if (this.isolation) {
      if (this.controller.waiting(poolName) > 0) this.isolation.contended(poolName);
      if (flow !== undefined) allowed = this.#allowed(poolName, snapshot, flow);
    }
    const now = this.options.now();
    const s = this.options.saturation;
    const prefillBudget = this.options.maxPendingPrefillTokens ?? 0;
    let ready = 0;
    /** Ready endpoints this flow may use (all of them without isolation). */
    let usable = 0;
    let fresh = 0;
    /** Queue places, and prompt tokens to prefill, left on fresh endpoints under every threshold. */
    let room = 0;
    let prefillRoom = 0;
    let inFlight = 0;
    const max = this.options.maxConcurrency;
    // The concurrency detector without flow isolation: the pool's ready endpoints and this gateway's requests in
    // flight on them, kept by the scheduler as they change — not a pass over every endpoint on every request.
    const whole = max > 0 && !this.isolation ? this.scheduler.readyInFlight?.(pool, snapshot.endpoints) : undefined;
    if (whole) {
      if (whole.ready === 0) return 'no-endpoints';
      if (whole.inFlight + extra.requests >= max * whole.ready) return 'saturated';
    }
    /** Whether a pass may stop at the first endpoint with room: nothing after it can take room back. */
    const firstRoom = max === 0 || whole !== undefined;
    // This gateway's counts, only when a threshold reads them.
    const counted = (max > 0 && !whole) || s.queueDepthThreshold > 0 || prefillBudget > 0;
    for (const e of snapshot.endpoints) {
      if (!e.ready) continue;
      ready++;
      // Room and concurrency count only on the endpoints this flow may use (flow isolation).
      if (allowed && !allowed(e.id)) continue;
      usable++;
      const counts = counted ? this.scheduler.inFlight?.(pool, e, prefillBudget > 0) : undefined;
      inFlight += counts?.total ?? 0;
      const m = e.metrics;
      if (!snapshot.hasMetrics || m === undefined || e.scrapedAt === undefined || now - e.scrapedAt > s.metricsStalenessThreshold) continue;
      fresh++;
      if (s.kvCacheUtilThreshold > 0 && m.kvUsage >= s.kvCacheUtilThreshold) continue;
      const waiting = m.waiting + (counts?.unreflected ?? 0);
      if (s.queueDepthThreshold > 0 && waiting >= s.queueDepthThreshold) continue;
      const prefill = counts?.prefillTokens ?? 0;
      if (prefillBudget > 0 && prefill >= prefillBudget) continue;
      room += s.queueDepthThreshold > 0 ? s.queueDepthThreshold - waiting : Infinity;
      prefillRoom += prefillBudget > 0 ? prefillBudget - prefill : Infinity;
      // With no concurrency cap left to check, nothing below can take back room found: an idle pool answers at its
      // first endpoint.
      if (firstRoom && extra.requests < room && extra.bytes / 4 < prefillRoom) return 'available';
    }
    if (ready === 0) return 'no-endpoints';
    if (max > 0 && !whole && inFlight + extra.requests >= max * usable) return 'saturated';
    if (fresh === 0) return 'available';
    // Admitted requests not yet dispatched: ~4 bytes of body a prompt token.
    return extra.requests < room && extra.bytes / 4 < prefillRoom ? 'available' : 'saturated';
  }
}

function flowRequest(pool: Pool, request: SchedulingRequest, bytes: number, signal: FlowRequest['signal']): FlowRequest {
  return {
    requestId: request.requestId,
    pool: pool.name,
    priority: request.priority,
    flow: flowOf(request),
    bytes,
    weight: request.prompt.length,
    ttlMs: request.ttlMs,
    sloTtftMs: request.sloTtftMs,
    signal,
  };
}

/** The request's flow: its fairness id, else its tenant, else `default-flow`. */
function flowOf(request: SchedulingRequest): string {
  return request.fairnessId ?? request.tenant ?? 'default-flow';
}
