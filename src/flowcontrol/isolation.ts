/**
 * Flow isolation: while a pool is contended, the flows that ask for more
 * than their fair share of it are kept off a reserve of endpoints that
 * serves the flows within theirs.
 *
 * Why: flow control orders the gateway's queue, but a request sent to a pod
 * shares every engine step with what that pod already runs. A quiet tenant's
 * prompt prefilled in a step beside a flooding tenant's long documents waits
 * for them: its TTFT rises several-fold however fair the queue was
 * (docs/routing-benchmark.md, noisy-neighbour). A model server that batches
 * everything it admits gives no priority inside a step, so the gateway gives
 * the quiet flows pods of their own while the pool is contended — what
 * shuffle sharding and per-tenant pools do, sized here from live demand.
 *
 * The rules, per pool (rates are of prompt characters, decayed over `windowMs`):
 * - The pool is contended while flow control holds requests for it, and for
 *   `windowMs` after. Outside contention every flow may use every endpoint.
 * - A flow's demand is its arrival rate plus what it has waiting. Max-min
 *   fairness against what the pool serves (its dispatch rate; while the
 *   reserve exists, the rate of the other endpoints — the ones kept full —
 *   scaled to the whole pool) gives a fair level; a flow above it is over
 *   its share, and stays over while it has requests waiting (a backlog
 *   draining after a burst stays off the reserve). With one flow, or when
 *   every demand fits, nobody is over and nothing is restricted.
 * - The reserve holds the endpoints the flows within their share need —
 *   their demand over what the pool serves, × the pool's endpoints, ×
 *   (1 + `headroom`), rounded up — at least one, and leaves the flows over
 *   their share at least their fair share of the endpoints (N × over ÷
 *   flows); none when no flow is within its share. It grows at once (the endpoints with the least over-share work
 *   in flight join) and shrinks by one endpoint a window at most.
 * - Flows within their share go to the reserve only; flows over it to the
 *   other endpoints only, and flow control counts room for each on its own
 *   endpoints (a full half does not hold back the other; so a lower band
 *   may go while a higher one waits for its own endpoints).
 *
 * The price is throughput: the reserve runs below full batches so that its
 * steps stay short, and the flows over their share wait longer (measured:
 * docs/routing-benchmark.md, "Flow isolation"). It is off unless configured.
 * Runtime-neutral: endpoint ids and a clock.
 */

export interface IsolationOptions {
  /** Spare capacity the reserve gets over the demand it serves (1: twice the endpoints the rate needs). */
  headroom: number;
  /** The time constant of the rates, the hold of contention, and the least time between two shrinks of the reserve, ms. */
  windowMs: number;
}

export const DEFAULT_ISOLATION: IsolationOptions = { headroom: 1, windowMs: 2000 };

/** Arrivals between two sweeps of the flows gone quiet. */
const SWEEP_EVERY = 1024;

/** Which endpoints a flow may use now: undefined when it may use all of them. */
export type Allowed = ((endpointId: string) => boolean) | undefined;

/** An exponentially decayed rate (per ms × window). */
class Rate {
  value = 0;
  at = 0;
  add(amount: number, now: number, window: number): void {
    this.decay(now, window);
    this.value += amount;
  }
  decay(now: number, window: number): number {
    if (now > this.at) {
      this.value *= Math.exp((this.at - now) / window);
      this.at = now;
    }
    return this.value;
  }
}

class PoolIsolation {
  /** Prompt bytes arriving, per flow (flows whose rate decays to nothing leave). */
  readonly arrivals = new Map<string, Rate>();
  /** Prompt bytes dispatched, per flow. */
  readonly served = new Map<string, Rate>();
  /** Over-share requests in flight per endpoint. */
  readonly overOn = new Map<string, number>();
  readonly reserve = new Set<string>();
  contendedUntil = -Infinity;
  lastShrink = -Infinity;
  /** Ready endpoints, as of the last `allowed`. */
  endpoints = 0;
  /** Arrivals since the last sweep of quiet flows. */
  sinceSweep = 0;
  /** The fair level of demand (bytes per window) above which a flow is over its share, as of `levelAt`. */
  level = Infinity;
  levelAt = -Infinity;
  /** Demand of the flows within their share, how many flows are over it, and what the pool serves (bytes per window), as of `levelAt`. */
  within = 0;
  over = 0;
  capacity = 0;
  /** Flows found over their share: they stay over while they have requests waiting (a draining backlog stays off the reserve). */
  readonly overFlows = new Set<string>();
}

export class FlowIsolation {
  readonly #pools = new Map<string, PoolIsolation>();

  constructor(
    readonly options: IsolationOptions,
    private readonly now: () => number,
    /** Bytes a flow has waiting in flow control's queue for a pool. */
    private readonly queued: (pool: string, flow: string) => number = () => 0,
  ) {}

  /** A request of `flow` with `bytes` of prompt arrived at flow control. */
  arrived(pool: string, flow: string, bytes: number): void {
    const p = this.#pool(pool);
    const now = this.now();
    let r = p.arrivals.get(flow);
    if (!r) p.arrivals.set(flow, (r = new Rate()));
    r.add(bytes, now, this.options.windowMs);
    // Fairness ids are the clients' to choose: flows gone quiet leave, contended or not.
    if (++p.sinceSweep >= SWEEP_EVERY) {
      p.sinceSweep = 0;
      for (const [f, rate] of p.arrivals) {
        if (rate.decay(now, this.options.windowMs) >= 1 || p.overFlows.has(f) || this.queued(pool, f) > 0) continue;
        p.arrivals.delete(f);
        p.served.delete(f);
      }
    }
  }

  /** Flow control holds requests for this pool now. */
  contended(pool: string): void {
    this.#pool(pool).contendedUntil = this.now() + this.options.windowMs;
  }

  /** Whether `flow` asks for more than its share of `pool` now (false outside contention). */
  overShare(pool: string, flow: string): boolean {
    const p = this.#pools.get(pool);
    const now = this.now();
    if (!p || now > p.contendedUntil) return false;
    return this.#isOver(p, pool, flow, now);
  }

  /** The request went to `endpointId`; true when it counts as over its flow's share (then `completedOver` when it ends). */
  dispatched(pool: string, endpointId: string, flow: string, bytes: number): boolean {
    const p = this.#pools.get(pool);
    if (!p) return false;
    const now = this.now();
    // Only flows still tracked (a flow swept meanwhile would leave an entry nothing removes).
    if (p.arrivals.has(flow)) {
      let served = p.served.get(flow);
      if (!served) p.served.set(flow, (served = new Rate()));
      served.add(bytes, now, this.options.windowMs);
    }
    const over = now <= p.contendedUntil && this.#isOver(p, pool, flow, now);
    if (!over) return false;
    p.overOn.set(endpointId, (p.overOn.get(endpointId) ?? 0) + 1);
    return true;
  }

  /** A request `dispatched` counted as over its share ended. */
  completedOver(pool: string, endpointId: string): void {
    const p = this.#pools.get(pool);
    const n = p?.overOn.get(endpointId);
    if (!p || n === undefined) return;
    if (n > 1) p.overOn.set(endpointId, n - 1);
    else p.overOn.delete(endpointId);
  }

  /**
   * The endpoints `flow` may use among `ready` (the pool's ready endpoint
   * ids), resizing the reserve first; undefined when it may use any.
   */
  allowed(pool: string, flow: string, ready: readonly string[]): Allowed {
    const p = this.#pools.get(pool);
    if (!p) return undefined;
    const now = this.now();
    if (now > p.contendedUntil) {
      p.reserve.clear();
      return undefined;
    }
    p.endpoints = ready.length;
    const over = this.#isOver(p, pool, flow, now);
    this.#resize(p, pool, ready, now);
    if (p.reserve.size === 0) return undefined;
    const reserve = p.reserve;
    return over ? (id) => !reserve.has(id) : (id) => reserve.has(id);
  }

  /** Each pool's reserve size now (metrics). */
  *reserves(): Generator<{ pool: string; endpoints: number }> {
    const now = this.now();
    for (const [pool, p] of this.#pools) yield { pool, endpoints: now > p.contendedUntil ? 0 : p.reserve.size };
  }

  /** Flows a pool keeps state for (tests: it stays bounded). */
  flows(pool: string): number {
    const p = this.#pools.get(pool);
    return p ? Math.max(p.arrivals.size, p.served.size) : 0;
  }

  /** The reserve of a pool (explanations and tests). */
  reserved(pool: string): readonly string[] {
    return [...(this.#pools.get(pool)?.reserve ?? [])];
  }

  #isOver(p: PoolIsolation, pool: string, flow: string, now: number): boolean {
    if (this.#demand(p, pool, flow, now) > this.#level(p, pool, now)) {
      p.overFlows.add(flow);
      return true;
    }
    if (!p.overFlows.has(flow)) return false;
    if (this.queued(pool, flow) > 0) return true;
    p.overFlows.delete(flow);
    p.levelAt = -Infinity; // who is over changed: count again
    return false;
  }

  /** A flow's demand: its arrival rate (bytes per window) and what it has waiting. */
  #demand(p: PoolIsolation, pool: string, flow: string, now: number): number {
    const r = p.arrivals.get(flow);
    return (r ? r.decay(now, this.options.windowMs) : 0) + this.queued(pool, flow);
  }

  /**
   * Max-min fairness over the flows' demands against what the pool serves:
   * the level above which a flow is over its share (Infinity when every
   * demand fits), with the demand of the flows within it and how many are
   * over (a flow over it once stays over while it has requests waiting).
   * What the pool serves is the bytes it dispatched per window; while the
   * reserve holds endpoints, the rate of the others — the endpoints kept
   * full — scaled to the whole pool. Once per clock tick.
   */
  #level(p: PoolIsolation, pool: string, now: number): number {
    if (p.levelAt === now) return p.level;
    p.levelAt = now;
    const w = this.options.windowMs;
    for (const flow of p.overFlows) if (this.queued(pool, flow) === 0) p.overFlows.delete(flow);
    const demands: { flow: string; d: number }[] = [];
    let total = 0;
    for (const [flow, r] of p.arrivals) {
      const d = r.decay(now, w) + this.queued(pool, flow);
      // A flow silent for a few windows with nothing waiting is no longer active.
      if (d < 1) {
        p.arrivals.delete(flow);
        p.served.delete(flow);
        continue;
      }
      demands.push({ flow, d });
      total += d;
    }
    let all = 0;
    let over = 0;
    for (const [flow, r] of p.served) {
      const v = r.decay(now, w);
      all += v;
      if (p.overFlows.has(flow)) over += v;
    }
    const shared = p.endpoints - p.reserve.size;
    p.capacity = p.reserve.size > 0 && shared > 0 && over > 0 ? (over * p.endpoints) / shared : all;
    p.level = Infinity;
    // Everything fits (with a tenth to spare for the noise of the rates): nobody is newly over.
    if (demands.length >= 2 && total > p.capacity * 1.1) {
      demands.sort((x, y) => x.d - y.d);
      let left = p.capacity;
      for (let i = 0; i < demands.length; i++) {
        const fair = left / (demands.length - i);
        if (demands[i]!.d > fair) {
          p.level = fair;
          break;
        }
        left -= demands[i]!.d;
      }
    }
    p.within = 0;
    p.over = 0;
    for (const { flow, d } of demands) {
      if (d > p.level || p.overFlows.has(flow)) p.over++;
      else p.within += d;
    }
    return p.level;
  }

  /** The reserve's size follows the demand within shares; which endpoints join or leave, as the class doc says. */
  #resize(p: PoolIsolation, pool: string, ready: readonly string[], now: number): void {
    this.#level(p, pool, now);
    const readySet = new Set(ready);
    for (const id of p.reserve) if (!readySet.has(id)) p.reserve.delete(id);
    const n = ready.length;
    if (p.over === 0 || n < 2 || p.capacity <= 0) {
      p.reserve.clear();
      return;
    }
    const most = n - Math.ceil((n * p.over) / p.arrivals.size);
    // Nobody within its share, or no endpoint to spare: a reserve would serve no one.
    if (p.within <= 0 || most < 1) {
      p.reserve.clear();
      return;
    }
    const target = Math.max(1, Math.min(most, Math.ceil(((n * p.within) / p.capacity) * (1 + this.options.headroom))));
    if (p.reserve.size < target) {
      // Join: the endpoints with the least over-share work in flight.
      const candidates = ready.filter((id) => !p.reserve.has(id)).map((id) => ({ id, w: p.overOn.get(id) ?? 0 }));
      candidates.sort((a, b) => a.w - b.w || (a.id < b.id ? -1 : 1));
      for (let i = 0; p.reserve.size < target && i < candidates.length; i++) p.reserve.add(candidates[i]!.id);
    } else if (p.reserve.size > target && now - p.lastShrink >= this.options.windowMs) {
      // Leave: the last to join.
      let last: string | undefined;
      for (const id of p.reserve) last = id;
      p.reserve.delete(last!);
      p.lastShrink = now;
    }
  }

  #pool(name: string): PoolIsolation {
    let p = this.#pools.get(name);
    if (!p) this.#pools.set(name, (p = new PoolIsolation()));
    return p;
  }
}
