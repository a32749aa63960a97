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
import type { PoolSnapshot } from '../endpoints/types.ts';
import type { FlowControlConfig } from '../flowcontrol/config.ts';
import { FlowController, type Admission, type AdmitResult, type FlowRequest, type IdlePool, type Pending, type PoolState } from '../flowcontrol/controller.ts';
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
  /** Each pool's room as the detector last found it, by name. */
  readonly #rooms = new Map<string, Room>();
  /** The pool last admitted to (most requests go where the last one went: no map write for them). */
  #last: Room | undefined;
  /** The pools of the table last applied, by name (undefined until one is: then each request's pool is kept). */
  #tablePools: ReadonlyMap<string, Pool> | undefined;
  readonly #stop: (() => void) | undefined;
  /** Whether room found may be spent by later requests (see #idle): only when every change of the view is told. */
  readonly #credits: boolean;

  constructor(
    private readonly view: ViewChanges,
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
    // Fresh metrics may free capacity: dispatch what waits (a few comparisons when nothing does). And they may take
    // room away: what the detector found is looked for again.
    this.#credits = view.onChange !== undefined && !isolation && !(options.maxPendingPrefillTokens! > 0);
    this.#stop = view.onChange?.(() => {
      for (const r of this.#rooms.values()) r.credit = 0;
      for (const name of this.#pools.keys()) if (this.controller.waiting(name)) this.controller.wake(name);
    });
  }

  admit(pool: Pool, request: SchedulingRequest, bytes: number, signal: FlowRequest['signal']): AdmitResult | Promise<AdmitResult> {
    const known = this.#idle(pool, bytes);
    if (typeof known === 'object') return known;
    return this.controller.admit(this.#arrived(pool, request, bytes, signal), known);
  }

  /** `admit` for a synchronous caller (see FlowController.admitThen). */
  admitThen(pool: Pool, request: SchedulingRequest, bytes: number, signal: FlowRequest['signal'], then: (r: AdmitResult) => void): AdmitResult | undefined {
    const known = this.#idle(pool, bytes);
    if (typeof known === 'object') return known;
    return this.controller.admitThen(this.#arrived(pool, request, bytes, signal), then, known);
  }

  /**
   * Idle flow control's whole cost: with nothing waiting in the pool and room
   * for it, the request passes, touching no more than it must. Room the
   * detector found is spent one request at a time (the pool's credit), as if
   * each went to the endpoint that had it, until the view changes (a fresh
   * snapshot, an ejection), a metrics sample it counted on goes stale, or it
   * is spent: meanwhile a request is a counter and a comparison, and its
   * admission is the pool's own object (counted until started). What else
   * takes room spends it too: each dispatch (a retry or a resume may move a
   * request admitted before onto the endpoint with the room; a first dispatch
   * spends a second place, which errs on the safe side); a completion or a
   * first token only frees room. Staleness comes by a timer, not a clock
   * read a request (one costs ~0.15 µs of a decision here); like nginx's
   * time, cached once an event-loop turn, it can be late by what that turn
   * still runs.
   *
   * Credit means nothing waits: it is given only by a look at an empty queue,
   * and a request waits only after a look found no room, with the credit
   * spent. Else (no credit) the request let through when the detector says
   * so, else its answer — or undefined when the controller must ask it (flow
   * isolation, whose detector depends on the flow, or requests waiting).
   */
  #idle(pool: Pool, bytes: number): { admitted: Admission } | PoolState | undefined {
    let r = this.#last;
    if (r === undefined || r.pool !== pool) r = this.#remember(pool);
    if (r.credit > 0) {
      r.credit--;
      r.passing++;
      return r;
    }
    if (r.flow.queues.count > 0 || this.isolation) return undefined;
    const state = this.#stateOf(pool, this.#pending(r), undefined, this.#credits ? r : undefined);
    if (state !== 'available') return state;
    // Without credit (no view that tells its changes, or a prefill budget, which counts pending bytes): as the controller lets it.
    if (!this.#credits) return this.controller.passIdle(r.flow, bytes);
    r.passing++;
    return r;
  }

  #arrived(pool: Pool, request: SchedulingRequest, bytes: number, signal: FlowRequest['signal']): FlowRequest {
    this.isolation?.arrived(pool.name, flowOf(request), request.prompt.length);
    return flowRequest(pool, request, bytes, signal);
  }

  #remember(pool: Pool): Room {
    const name = pool.name;
    // The table's object for the name: a request resolved against an older table does not bring its pool back.
    this.#pools.set(name, this.#tablePools?.get(name) ?? pool);
    let r = this.#rooms.get(name);
    if (r === undefined) this.#rooms.set(name, (r = new Room(pool, this.controller, this.controller.poolFlow(name))));
    else if (r.pool !== pool) {
      // Another object for the name (another table's): its view may differ.
      r.pool = pool;
      r.forget();
    }
    return (this.#last = r);
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
    // A pool's selector or profile may have changed: its room is looked for again.
    for (const [name, r] of this.#rooms) {
      r.forget();
      // (One whose requests are still on their way to scheduling stays: the detector counts them.)
      if (!byName.has(name) && r.passing === 0) this.#rooms.delete(name);
    }
    this.#last = undefined;
    for (const name of looked) if (this.controller.waiting(name)) this.controller.wake(name);
  }

  wake(pool: Pool): void {
    // A completion on the idle pool: nothing waits, nothing to look up.
    const r = this.#last;
    if (r !== undefined && r.pool === pool && r.flow.queues.count === 0) return;
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
    // Every dispatch spends a place of the pool's credit too: a retry or a resume can move a request admitted before
    // the room was found onto the endpoint that has it.
    const r = this.#last !== undefined && this.#last.pool === pool ? this.#last : this.#rooms.get(pool.name);
    if (r !== undefined) r.credit--;
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
    for (const r of this.#rooms.values()) r.forget();
  }

  #state(poolName: string, extra: Pending, flow?: string): PoolState {
    const pool = this.#pools.get(poolName);
    const r = this.#rooms.get(poolName);
    return pool ? this.#stateOf(pool, r ? this.#pending(r, extra) : extra, flow) : 'available';
  }

  /** What the detector counts as admitted and not yet at scheduling: the controller's, and what passed on credit. */
  #pending(r: Room, of: Readonly<Pending> = r.flow.pending): Readonly<Pending> {
    return r.passing === 0 ? of : { requests: of.requests + r.passing, bytes: of.bytes };
  }

  /**
   * The detector. `fill`: when it finds the pool available at the first
   * endpoints with room (no more looked at), the room is recorded there for
   * the requests after this one to spend (see #idle) — unless an ejection in
   * force could end and change the view with time alone (its endpoint back,
   * with its requests in flight; or the others' ejections then in force).
   */
  #stateOf(pool: Pool, extra: Readonly<Pending>, flow?: string, fill?: Room): PoolState {
    const poolName = pool.name;
    // Settled before the snapshot is taken: an ejection that ends between the two would leave credit on a view
    // that changes with time alone.
    if (fill !== undefined && this.view.settled?.() === false) fill = undefined;
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
    /** When the first metrics sample counted in `room` goes stale. */
    let until = Infinity;
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
      until = Math.min(until, e.scrapedAt + s.metricsStalenessThreshold);
      // With no concurrency cap left to check, nothing below can take back room found: an idle pool answers at its
      // first endpoint.
      if (firstRoom && extra.requests < room && extra.bytes / 4 < prefillRoom) {
        // This request takes one place; the rest are the credit.
        if (fill) fill.grant(Math.min(room, whole ? max * whole.ready - whole.inFlight : Infinity) - extra.requests - 1, until, now);
        return 'available';
      }
    }
    if (ready === 0) return 'no-endpoints';
    if (max > 0 && !whole && inFlight + extra.requests >= max * usable) return 'saturated';
    if (fresh === 0) return 'available';
    // Admitted requests not yet dispatched: ~4 bytes of body a prompt token.
    return extra.requests < room && extra.bytes / 4 < prefillRoom ? 'available' : 'saturated';
  }
}

/** What tells admission of changes to a pool's view other than this gateway's own dispatches and the clock. */
export interface ViewChanges {
  /** A fresh snapshot, or an ejection: `listener` is called. Without it, no room found is spent by later requests. */
  onChange?(listener: () => void): () => void;
  /** Whether the view is settled: false while it could lose endpoints with time alone (an ejection in force). */
  settled?(): boolean;
}

/**
 * A pool's room as the detector last found it (see FlowAdmission#idle), and
 * the admission of every request let through on it: one object, so an idle
 * request makes nothing and touches nothing else.
 */
class Room implements Admission {
  readonly admitted: Admission = this;
  readonly waitedMs = 0;
  /** Requests that may still pass without a look: the room found, less the requests let through since. */
  credit = 0;
  /** Requests let through here, not yet at scheduling (`started`): the detector counts them. */
  passing = 0;
  /** The earliest a metrics sample counted in the credit goes stale, and the timer that then ends the credit. */
  staleAt = Infinity;
  timer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    /** The pool object the room was found for. */
    public pool: Pool,
    private readonly controller: FlowController,
    readonly flow: IdlePool,
  ) {}

  /** Once for each request let through here (the director calls it once, in a finally). */
  started(sent = true): void {
    this.passing--;
    // Not sent: the room it was counted in is free again and nothing else will say so.
    if (!sent && this.flow.queues.count > 0) this.controller.wake(this.flow.name);
  }

  /** Room for `credit` more requests, until `until` (when the first metrics sample counted goes stale). */
  grant(credit: number, until: number, now: number): void {
    this.credit = credit;
    if (until >= this.staleAt) return;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.staleAt = until;
    this.timer = setTimeout(() => this.forget(), Math.min(until - now, MAX_TIMER_MS));
  }

  /** The room is looked for again at the next request. */
  forget(): void {
    this.credit = 0;
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.staleAt = Infinity;
  }
}

/** setTimeout's longest delay (a longer one fires at once): a credit then ends early, and is looked for again. */
const MAX_TIMER_MS = 2 ** 31 - 1;

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
