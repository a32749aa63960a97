/**
 * Flow control: between admission and scheduling, a request that arrives
 * while its pool is saturated waits in the gateway — in its priority band,
 * in its flow — instead of in a pod's queue behind everyone else, and is
 * dispatched when capacity frees: at a completion, a first token, or a fresh
 * snapshot of the pool (the caller says when, `wake`). Nothing runs while
 * nothing waits: no polling loop, one timer per pool for the nearest TTL.
 * Pools are independent (no head-of-line blocking of one by another).
 *
 * While the pool is not saturated and nothing waits, a request passes at
 * once, synchronously: idle flow control costs a few comparisons.
 */
import { bandFor, type FlowControlConfig } from './config.ts';
import { PoolQueues, type QueuedRequest } from './queues.ts';
import { PushOutPlan } from './push-out.ts';

/** What the saturation detector says of a pool, counting `extra` requests admitted but not yet dispatched. */
export type PoolState = 'available' | 'saturated' | 'no-endpoints';

/** Requests admitted but not yet at scheduling: the detector counts them as load already placed. */
export interface Pending {
  requests: number;
  bytes: number;
}

export interface FlowRequest {
  requestId: string;
  pool: string;
  priority: number;
  /** The fairness id (x-llm-d-inference-fairness-id, or the tenant; `default-flow` when none). */
  flow: string;
  bytes: number;
  /** What flow isolation counts of it: its prompt's characters (its bytes when not given). */
  weight?: number;
  /** Its own queue-wait budget (x-llm-d-inference-ttl), ms. */
  ttlMs?: number;
  /** A TTFT objective (x-llm-d-slo-ttft-ms): the deadline for EDF ordering. */
  sloTtftMs?: number;
  /** The client going away while it waits takes it out of the queue at once. */
  signal: { readonly aborted: boolean; addEventListener(type: 'abort', l: () => void): void; removeEventListener(type: 'abort', l: () => void): void };
}

/** Why flow control refused a request (the director turns it into a 429 or a 503). */
export interface Refusal {
  kind: 'queue-full' | 'ttl-expired' | 'no-endpoints' | 'shed' | 'client-gone';
  message: string;
  retryAfterSeconds: number;
}

/** A request let through: `started()` once it has reached scheduling (or given up) — the detector counts it until then. */
export interface Admission {
  /** Time spent waiting in the queue, ms (0 when it passed at once). */
  waitedMs: number;
  /**
   * `sent`: scheduling sent it to a pod (default). When it did not (shed, no
   * endpoint, a failure), the room it was counted in is free again and
   * nothing else will say so (no completion, no first token): what waits in
   * its pool is looked at at once.
   */
  started(sent?: boolean): void;
}

export type AdmitResult = { admitted: Admission } | { refused: Refusal };

interface Waiting extends QueuedRequest {
  resolve(result: AdmitResult): void;
  onAbort: () => void;
  signal: FlowRequest['signal'];
}

/** What `passIdle`'s caller reads of a pool's flow state: whether anything waits, and what was admitted but not yet started. */
export interface IdlePool {
  readonly name: string;
  readonly queues: { readonly count: number };
  readonly pending: Readonly<Pending>;
}

interface PoolFlow {
  name: string;
  queues: PoolQueues;
  /** Admitted, not yet at scheduling: the detector counts them as load. */
  pending: Pending;
  timer: ReturnType<typeof setTimeout> | undefined;
  timerAt: number;
  /** Waiting items by TTL (a lazy min-heap: items taken out are skipped). */
  byExpiry: Waiting[];
}

export interface FlowControlStats {
  /** Refusals by kind. */
  refused: Map<Refusal['kind'], number>;
}

export class FlowController {
  readonly #pools = new Map<string, PoolFlow>();
  #seq = 0;
  readonly stats: FlowControlStats = { refused: new Map() };
  /** Told of each dispatch from the queue (queue time) and each refusal. */
  onEvent?: (e: { pool: string; priority: number; flow: string; outcome: 'dispatched' | Refusal['kind']; waitedMs: number }) => void;

  constructor(
    readonly config: FlowControlConfig,
    /** The saturation detector: the pool's state counting `extra` admitted requests — for `flow`'s endpoints when given (flow isolation). */
    private readonly state: (pool: string, extra: Pending, flow?: string) => PoolState,
    private readonly now: () => number = Date.now,
    /** Flows of one class see the same state (flow isolation's over/within share); without it, all flows do. */
    private readonly classOf?: (pool: string, flow: string) => string,
  ) {}

  admit(req: FlowRequest, known?: PoolState): AdmitResult | Promise<AdmitResult> {
    // A promise only for a request that waits: one decided at once (the idle pool) is returned as is.
    let resolve: ((r: AdmitResult) => void) | undefined;
    let early: AdmitResult | undefined;
    const now = this.admitThen(req, (r) => (resolve ? resolve(r) : (early = r)), known);
    return now ?? early ?? new Promise<AdmitResult>((r) => (resolve = r));
  }

  /**
   * `admit` without promises: the result when decided at once, else undefined
   * and `then` is called — synchronously, from `wake` or a TTL timer — when
   * the request leaves the queue (a synchronous caller: the simulated-time
   * benchmark).
   */
  admitThen(req: FlowRequest, then: (result: AdmitResult) => void, known?: PoolState): AdmitResult | undefined {
    const p = this.#pool(req.pool);
    // `known`: the detector's answer for this request, when the caller has just asked it (passIdle's caller).
    const state = known ?? this.state(req.pool, p.pending, req.flow);
    if (p.queues.count === 0 && state === 'available') return this.#pass(p, 0, req.bytes);
    if (state === 'saturated' && req.priority < 0 && this.config.shedNegative) {
      return this.#refuse(req, 'shed', `pool "${req.pool}" is saturated and this request is sheddable (priority ${req.priority} < 0)`, 1);
    }
    const band = p.queues.band(req.priority, bandFor(this.config, req.priority));
    const c = this.config;
    if (req.signal.aborted) return { refused: { kind: 'client-gone', message: 'the client went away', retryAfterSeconds: 0 } };
    // A full queue refuses the flow that filled it: the newest requests of the flow with the most waiting in this
    // band make room, while it has more waiting than this request's flow would (a flood cannot lock the others out).
    // Who makes room is chosen first, as if each chosen one had already left (the plan), and pushed out only if this
    // request then fits: one that does not is refused without anyone losing their place for it.
    let plan: PushOutPlan | undefined;
    let why: string[] | undefined;
    for (;;) {
      const inBand = plan?.band(req.priority);
      const bandCount = band.count - (inBand?.count ?? 0);
      const poolCount = p.queues.count - (plan?.count ?? 0);
      const bandFull = bandCount + 1 > band.config.maxRequests || band.bytes - (inBand?.bytes ?? 0) + req.bytes > band.config.maxBytes;
      const poolFull = (c.maxRequests > 0 && poolCount + 1 > c.maxRequests) || (c.maxBytes > 0 && p.queues.bytes - (plan?.bytes ?? 0) + req.bytes > c.maxBytes);
      if (!bandFull && !poolFull) break;
      // Bytes are what to free when the request count is within its limit, so the byte limit is the full one.
      const byBytes = bandFull ? bandCount + 1 <= band.config.maxRequests : c.maxRequests === 0 || poolCount + 1 <= c.maxRequests;
      // The pool is full (not the band): a lower band's request goes first (if this one can fit at all), then as in a full band.
      const fits = c.maxBytes === 0 || req.bytes <= c.maxBytes;
      const lower = bandFull || !fits ? undefined : p.queues.lowerPushOutCandidate(req.priority, byBytes, plan);
      const victim = lower ?? band.pushOutCandidate(req.flow, req.bytes, byBytes, plan);
      if (!victim) {
        return bandFull
          ? this.#refuse(req, 'queue-full', `the queue of priority ${req.priority} in pool "${req.pool}" is full (${band.count} requests, ${band.bytes} bytes; limits ${band.config.maxRequests} and ${band.config.maxBytes})`, 1)
          : this.#refuse(req, 'queue-full', `the flow-control queues of pool "${req.pool}" are full (${p.queues.count} requests, ${p.queues.bytes} bytes; limits ${c.maxRequests || '∞'} and ${c.maxBytes || '∞'})`, 1);
      }
      (plan ??= new PushOutPlan()).add(victim);
      (why ??= []).push(lower ? `a request of priority ${req.priority} arrived at the full flow-control queues of pool "${req.pool}", and this one's priority (${victim.priority}) is the lowest waiting: it made room` : `the queue of priority ${victim.priority} in pool "${req.pool}" is full, and flow "${victim.flow}" has the most ${byBytes ? 'bytes' : 'requests'} waiting in it: its newest made room for another flow's`);
    }
    if (plan) plan.items.forEach((victim, i) => this.#pushOut(req.pool, p, victim as Waiting, why![i]!));
    const now = this.now();
    const ttl = req.ttlMs ?? (state === 'no-endpoints' ? c.noEndpointRequestTTLMs : c.defaultRequestTTLMs);
    const expiresAt = ttl > 0 ? now + ttl : Infinity;
    {
      const resolve = then;
      const item: Waiting = {
        requestId: req.requestId,
        priority: req.priority,
        flow: req.flow,
        bytes: req.bytes,
        ...(req.weight !== undefined ? { weight: req.weight } : {}),
        seq: this.#seq++,
        enqueuedAt: now,
        expiresAt,
        deadline: req.sloTtftMs !== undefined && band.config.ordering === 'slo-deadline-ordering-policy' ? now + req.sloTtftMs : expiresAt,
        queued: true,
        signal: req.signal,
        resolve,
        onAbort: () => {
          if (!item.queued) return;
          p.queues.remove(item);
          this.#arm(req.pool, p);
          this.#count('client-gone');
          resolve({ refused: { kind: 'client-gone', message: 'the client went away while its request waited', retryAfterSeconds: 0 } });
        },
      };
      req.signal.addEventListener('abort', item.onAbort);
      p.queues.push(band, item);
      if (expiresAt !== Infinity) this.#arm(req.pool, p, item);
      // A request queued behind others while the pool has room: dispatch what fits now.
      if (state === 'available') this.wake(req.pool);
    }
    return undefined;
  }

  /** Refuse a waiting request to make room for another flow's, or a higher priority's (see admitThen). */
  #pushOut(pool: string, p: PoolFlow, item: Waiting, message: string): void {
    p.queues.remove(item);
    item.signal.removeEventListener('abort', item.onAbort);
    this.#count('queue-full');
    this.onEvent?.({ pool, priority: item.priority, flow: item.flow, outcome: 'queue-full', waitedMs: this.now() - item.enqueuedAt });
    item.resolve({
      refused: {
        kind: 'queue-full',
        message,
        retryAfterSeconds: 1,
      },
    });
  }

  /** Capacity may have freed in this pool (a completion, a first token, a fresh snapshot): dispatch what fits. */
  wake(pool: string): void {
    const p = this.#pools.get(pool);
    if (!p || p.queues.count === 0) return;
    // With classes of flows: the detector once per class and take, not once per flow looked at.
    const classOf = this.classOf;
    const memo = classOf && new Map<string, boolean>();
    const eligible =
      classOf &&
      ((flow: string) => {
        const k = classOf(pool, flow);
        let ok = memo!.get(k);
        if (ok === undefined) memo!.set(k, (ok = this.state(pool, p.pending, flow) === 'available'));
        return ok;
      });
    for (;;) {
      memo?.clear();
      // Without classes every flow sees the same state: nothing is taken while the pool has no room.
      const item = (eligible ? p.queues.take(eligible) : this.state(pool, p.pending) === 'available' ? p.queues.take() : undefined) as Waiting | undefined;
      if (!item) {
        // The nearest TTL may have left with what was dispatched: keep the timer for what still waits.
        if (p.timer) this.#arm(pool, p);
        return;
      }
      item.signal.removeEventListener('abort', item.onAbort);
      const waited = this.now() - item.enqueuedAt;
      this.onEvent?.({ pool, priority: item.priority, flow: item.flow, outcome: 'dispatched', waitedMs: waited });
      item.resolve(this.#pass(p, waited, item.bytes));
    }
  }

  /** Whether requests wait in this pool (the caller listens for fresh snapshots only then). */
  waiting(pool: string): number {
    return this.#pools.get(pool)?.queues.count ?? 0;
  }

  /** What `flow` has waiting in `pool`'s queues: its requests, and their weight (prompt characters). */
  queuedOf(pool: string, flow: string): { requests: number; bytes: number } {
    const q = this.#pools.get(pool)?.queues;
    const requests = q?.flowCount.get(flow) ?? 0;
    return requests === 0 ? NONE_QUEUED : { requests, bytes: q!.flowWeight.get(flow) ?? 0 };
  }

  /** What waits, per pool, band and flow. */
  *queued(): Generator<{ pool: string; priority: number; flow: string; requests: number; bytes: number }> {
    for (const [pool, p] of this.#pools) for (const s of p.queues.sizes()) yield { pool, ...s };
  }

  /**
   * A pool's queues and admitted count, made on first use: a caller that
   * admits to one pool again and again holds it for `passIdle`.
   */
  poolFlow(pool: string): IdlePool {
    return this.#pool(pool);
  }

  /**
   * The idle pool's fast path, for a caller whose detector does not depend on
   * the flow: it saw nothing waiting in `p` and the detector (given
   * `p.pending`) says the pool has room — the request passes at once, exactly
   * as `admitThen` would let it.
   */
  passIdle(p: IdlePool, bytes: number): { admitted: Admission } {
    return this.#pass(p as PoolFlow, 0, bytes);
  }

  #pass(p: PoolFlow, waitedMs: number, bytes: number): { admitted: Admission } {
    p.pending.requests++;
    p.pending.bytes += bytes;
    return new Passed(this, p, waitedMs, bytes);
  }

  #refuse(req: Pick<FlowRequest, 'pool' | 'priority' | 'flow'>, kind: Refusal['kind'], message: string, retryAfterSeconds: number): { refused: Refusal } {
    this.#count(kind);
    this.onEvent?.({ pool: req.pool, priority: req.priority, flow: req.flow, outcome: kind, waitedMs: 0 });
    return { refused: { kind, message, retryAfterSeconds } };
  }

  #count(kind: Refusal['kind']): void {
    this.stats.refused.set(kind, (this.stats.refused.get(kind) ?? 0) + 1);
  }

  #pool(name: string): PoolFlow {
    let p = this.#pools.get(name);
    if (!p) this.#pools.set(name, (p = { name, queues: new PoolQueues(), pending: { requests: 0, bytes: 0 }, timer: undefined, timerAt: Infinity, byExpiry: [] }));
    return p;
  }

  /** Keep one timer per pool, at the nearest TTL. */
  #arm(pool: string, p: PoolFlow, item?: Waiting): void {
    if (item) heapPush(p.byExpiry, item);
    while (p.byExpiry.length && !p.byExpiry[0]!.queued) heapPop(p.byExpiry);
    const next = p.byExpiry[0]?.expiresAt ?? Infinity;
    if (next === p.timerAt) return;
    if (p.timer) clearTimeout(p.timer);
    p.timer = undefined;
    p.timerAt = next;
    if (next === Infinity) return;
    p.timer = setTimeout(() => this.#expire(pool, p), Math.max(0, next - this.now()));
  }

  #expire(pool: string, p: PoolFlow): void {
    p.timer = undefined;
    p.timerAt = Infinity;
    const now = this.now();
    while (p.byExpiry.length && (!p.byExpiry[0]!.queued || p.byExpiry[0]!.expiresAt <= now)) {
      const item = heapPop(p.byExpiry);
      if (!item.queued) continue;
      p.queues.remove(item);
      item.signal.removeEventListener('abort', item.onAbort);
      const noEndpoints = this.state(pool, p.pending) === 'no-endpoints';
      const waited = Math.round(now - item.enqueuedAt);
      const refusal: Refusal = noEndpoints
        ? { kind: 'no-endpoints', message: `pool "${pool}" had no ready endpoint for the ${waited} ms this request waited`, retryAfterSeconds: 1 }
        : { kind: 'ttl-expired', message: `pool "${pool}" stayed saturated for the ${waited} ms this request waited (its queue TTL)`, retryAfterSeconds: 1 };
      this.#count(refusal.kind);
      this.onEvent?.({ pool, priority: item.priority, flow: item.flow, outcome: refusal.kind, waitedMs: waited });
      item.resolve({ refused: refusal });
    }
    this.#arm(pool, p);
  }
}

function heapPush(h: Waiting[], item: Waiting): void {
  h.push(item);
  let i = h.length - 1;
  while (i > 0) {
    const parent = (i - 1) >> 1;
    if (h[parent]!.expiresAt <= item.expiresAt) break;
    h[i] = h[parent]!;
    i = parent;
  }
  h[i] = item;
}

function heapPop(h: Waiting[]): Waiting {
  const top = h[0]!;
  const last = h.pop()!;
  if (h.length) {
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= h.length) break;
      const r = l + 1;
      const c = r < h.length && h[r]!.expiresAt < h[l]!.expiresAt ? r : l;
      if (h[c]!.expiresAt >= last.expiresAt) break;
      h[i] = h[c]!;
      i = c;
    }
    h[i] = last;
  }
  return top;
}

const NONE_QUEUED = { requests: 0, bytes: 0 };

/** A request let through (one object: the result and its admission), counted in `pending` until started. */
class Passed implements Admission {
  readonly admitted: Admission = this;
  #started = false;
  constructor(
    private readonly controller: FlowController,
    private readonly pool: PoolFlow,
    readonly waitedMs: number,
    private readonly bytes: number,
  ) {}

  started(sent = true): void {
    if (this.#started) return;
    this.#started = true;
    const p = this.pool;
    p.pending.requests--;
    p.pending.bytes -= this.bytes;
    // Only what never reached a pod frees room unannounced; a request sent is counted in flight by scheduling instead.
    if (!sent && p.queues.count > 0) this.controller.wake(p.name);
  }
}
