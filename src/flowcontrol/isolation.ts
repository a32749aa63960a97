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
 * The rules, per pool:
 * - The pool is contended while flow control holds requests for it, and for
 *   `windowMs` after. Outside contention every flow may use every endpoint.
 * - Who is over its share, by max-min fairness twice. Bytes: a flow's rate
 *   of prompt characters arriving (decayed over `windowMs`) plus what it has
 *   waiting, against what the pool serves (its dispatch rate; while the
 *   reserve exists, the rate of the other endpoints — the ones kept full —
 *   scaled to the whole pool). Requests: what a flow has in flight plus
 *   what it has waiting, against all the pool has in flight. A flow over
 *   both fair levels is over its share (a rate lags a burst; a count takes
 *   long answers for a heavy flow), and stays over while it has requests
 *   waiting (a backlog draining after a burst stays off the reserve). With
 *   one flow, or while nothing waits, nobody is newly over.
 * - The reserve is sized by the engines' batches, not by bytes: the flows
 *   within their share's part of the requests in flight (a chat answer
 *   decodes for as long as a document's prefill takes), × the pool's
 *   endpoints, × (1 + `headroom`), rounded up; at least as many requests as
 *   flows within their share. At least one endpoint, and the flows over
 *   their share keep at least their fair share of the endpoints (N × over ÷
 *   flows); none when no flow is within its share. It grows at once (the
 *   endpoints with the least over-share work in flight join) and shrinks by
 *   one endpoint a window at most.
 * - Flows over their share go to the endpoints outside the reserve only.
 *   Flows within it go to the reserve, and to any endpoint with no request
 *   of a flow over its share in flight (as a flood starts, before it has
 *   reached every endpoint, and while it pauses). Flow control counts room
 *   for each class on the endpoints it may use (a full half does not hold
 *   back the other; so a lower band may go while a higher one waits for its
 *   own endpoints).
 *
 * The price is throughput: the reserve runs below full batches so that its
 * steps stay short, and the flows over their share wait longer (measured:
 * docs/routing-benchmark.md, "Flow isolation"). It is off unless configured.
 * Runtime-neutral: endpoint ids and a clock.
 */

export interface IsolationOptions {
  /** Spare capacity the reserve gets over the demand it serves (1: twice the endpoints that demand fills). */
  headroom: number;
  /** The time constant of the rates, the hold of contention, and the least time between two shrinks of the reserve, ms. */
  windowMs: number;
}

export const DEFAULT_ISOLATION: IsolationOptions = { headroom: 2, windowMs: 1000 };

/** Flows above which the fair levels are worked out less often than every tick (their cost grows with the flows). */
const MANY_FLOWS = 256;

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
  /** Requests in flight per flow. */
  readonly inFlight = new Map<string, number>();
  /** Requests in flight per endpoint and flow. */
  readonly on = new Map<string, Map<string, number>>();
  /** Requests in flight, all of them and those of `overFlows`; and of `overFlows` per endpoint (kept as they change). */
  inFlightAll = 0;
  overInFlight = 0;
  readonly overOn = new Map<string, number>();
  readonly reserve = new Set<string>();
  contendedUntil = -Infinity;
  lastShrink = -Infinity;
  /** Ready endpoints, as of the last `allowed`. */
  endpoints = 0;
  /** Arrivals since the last sweep of quiet flows. */
  sinceSweep = 0;
  /** The fair levels above which a flow is over its share, as of `levelAt`: of bytes per window, and of requests in flight and waiting. */
  level = Infinity;
  countLevel = Infinity;
  levelAt = -Infinity;
  /** How many flows are over their share and within it, as of `levelAt`. */
  over = 0;
  within = 0;
  /** Flows found over their share: they stay over while they have requests waiting (a draining backlog stays off the reserve). */
  readonly overFlows = new Set<string>();
}

export class FlowIsolation {
  readonly #pools = new Map<string, PoolIsolation>();

  constructor(
    readonly options: IsolationOptions,
    private readonly now: () => number,
    /** What a flow has waiting in flow control's queue for a pool: its requests, and their prompts' bytes. */
    private readonly queued: (pool: string, flow: string) => { requests: number; bytes: number } = () => NOTHING,
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
        if (rate.decay(now, this.options.windowMs) >= 1 || p.overFlows.has(f) || this.queued(pool, f).requests > 0) continue;
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

  /** A request of `flow` with `bytes` of prompt went to `endpointId` (then `completed` when it ends). */
  dispatched(pool: string, endpointId: string, flow: string, bytes: number): void {
    const p = this.#pool(pool);
    // What the pool serves, of flows still tracked (a flow swept meanwhile would leave an entry nothing removes).
    if (p.arrivals.has(flow)) {
      let served = p.served.get(flow);
      if (!served) p.served.set(flow, (served = new Rate()));
      served.add(bytes, this.now(), this.options.windowMs);
    }
    p.inFlight.set(flow, (p.inFlight.get(flow) ?? 0) + 1);
    p.inFlightAll++;
    let flows = p.on.get(endpointId);
    if (!flows) p.on.set(endpointId, (flows = new Map()));
    flows.set(flow, (flows.get(flow) ?? 0) + 1);
    if (p.overFlows.has(flow)) {
      p.overInFlight++;
      p.overOn.set(endpointId, (p.overOn.get(endpointId) ?? 0) + 1);
    }
  }

  /** A request `dispatched` ended. */
  completed(pool: string, endpointId: string, flow: string): void {
    const p = this.#pools.get(pool);
    if (!p) return;
    const flows = p.on.get(endpointId);
    if (!flows || !decrement(flows, flow)) return;
    if (flows.size === 0) p.on.delete(endpointId);
    decrement(p.inFlight, flow);
    p.inFlightAll--;
    if (p.overFlows.has(flow)) {
      p.overInFlight--;
      decrement(p.overOn, endpointId);
    }
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
    if (over) return (id) => !reserve.has(id);
    const overOn = p.overOn;
    return (id) => reserve.has(id) || !overOn.has(id);
  }

  /** Each pool's reserve size now (metrics). */
  *reserves(): Generator<{ pool: string; endpoints: number }> {
    const now = this.now();
    for (const [pool, p] of this.#pools) yield { pool, endpoints: now > p.contendedUntil ? 0 : p.reserve.size };
  }

  /** Flows a pool keeps state for (tests: it stays bounded). */
  flows(pool: string): number {
    const p = this.#pools.get(pool);
    return p ? Math.max(p.arrivals.size, p.served.size, p.inFlight.size, p.overFlows.size) : 0;
  }

  /** The reserve of a pool (explanations and tests). */
  reserved(pool: string): readonly string[] {
    return [...(this.#pools.get(pool)?.reserve ?? [])];
  }

  /**
   * Over its share: both the flow's rate of prompt bytes and its requests in
   * flight and waiting are above their fair levels. The two misjudge
   * differently — a rate lags a burst until the pool has queued a part of
   * it, and counts take a flow with long answers for a heavy one — so a flow
   * is over when both say so. Once over, it stays over while it has requests
   * waiting.
   */
  #isOver(p: PoolIsolation, pool: string, flow: string, now: number): boolean {
    this.#level(p, pool, now);
    if (this.#overNow(p, pool, flow, now, this.queued(pool, flow))) {
      this.#markOver(p, flow);
      return true;
    }
    if (!p.overFlows.has(flow)) return false;
    if (this.queued(pool, flow).requests > 0) return true;
    this.#markWithin(p, flow);
    p.levelAt = -Infinity; // who is over changed: count again
    return false;
  }

  #overNow(p: PoolIsolation, pool: string, flow: string, now: number, queued: { requests: number; bytes: number }): boolean {
    const rate = p.arrivals.get(flow)?.decay(now, this.options.windowMs) ?? 0;
    return rate + queued.bytes > p.level && (p.inFlight.get(flow) ?? 0) + queued.requests > p.countLevel;
  }

  /**
   * The fair levels, by max-min fairness over the flows' demands: of bytes,
   * each flow's arrival rate and what it has waiting, against what the pool
   * serves — the bytes it dispatched per window, or while the reserve holds
   * endpoints the rate of the others (the endpoints kept full) scaled to the
   * whole pool; of requests, each flow's in flight and waiting, against all
   * in flight. A level is Infinity while every demand fits (nothing waits).
   * Then who is over and who within. Once per clock tick.
   */
  #level(p: PoolIsolation, pool: string, now: number): void {
    if (p.levelAt === now) return;
    // Many flows (fairness ids are the clients' to choose): worked out once per window / 50 at most, not every tick.
    if (p.arrivals.size > MANY_FLOWS && now >= p.levelAt && now - p.levelAt < this.options.windowMs / 50) return;
    p.levelAt = now;
    const w = this.options.windowMs;
    const flows: { flow: string; bytes: number; requests: number; queued: { requests: number; bytes: number } }[] = [];
    let bytes = 0;
    let inFlight = 0;
    let waiting = 0;
    for (const [flow, r] of p.arrivals) {
      const queued = this.queued(pool, flow);
      if (queued.requests === 0) this.#markWithin(p, flow);
      const d = r.decay(now, w) + queued.bytes;
      // A flow silent for a few windows with nothing waiting is no longer active.
      if (d < 1) {
        this.#markWithin(p, flow);
        p.arrivals.delete(flow);
        p.served.delete(flow);
        continue;
      }
      const k = p.inFlight.get(flow) ?? 0;
      flows.push({ flow, bytes: d, requests: k + queued.requests, queued });
      bytes += d;
      inFlight += k;
      waiting += queued.requests;
    }
    let served = 0;
    let overServed = 0;
    for (const [flow, r] of p.served) {
      const v = r.decay(now, w);
      served += v;
      if (p.overFlows.has(flow)) overServed += v;
    }
    const shared = p.endpoints - p.reserve.size;
    const capacity = p.reserve.size > 0 && shared > 0 && overServed > 0 ? (overServed * p.endpoints) / shared : served;
    p.level = bytes > capacity ? maxMinLevel(flows.map((f) => f.bytes), capacity) : Infinity;
    p.countLevel = waiting > 0 ? maxMinLevel(flows.map((f) => f.requests), inFlight) : Infinity;
    p.over = 0;
    p.within = 0;
    for (const f of flows) {
      if (p.overFlows.has(f.flow) || this.#overNow(p, pool, f.flow, now, f.queued)) p.over++;
      else p.within++;
    }
  }

  /** The reserve's size follows the demand within shares; which endpoints join or leave, as the class doc says. */
  #resize(p: PoolIsolation, pool: string, ready: readonly string[], now: number): void {
    this.#level(p, pool, now);
    const readySet = new Set(ready);
    for (const id of p.reserve) if (!readySet.has(id)) p.reserve.delete(id);
    const n = ready.length;
    const most = n - Math.ceil((n * p.over) / (p.over + p.within));
    // Nobody over or nobody within its share, or no endpoint to spare: a reserve would serve no one.
    if (p.over === 0 || p.within === 0 || n < 2 || most < 1) {
      p.reserve.clear();
      return;
    }
    const over = p.overInFlight;
    // At least as many requests as flows within their share: a flow between two requests still needs somewhere to go.
    const within = Math.max(p.inFlightAll - over, p.within);
    const target = Math.max(1, Math.min(most, Math.ceil(((n * within) / (within + over)) * (1 + this.options.headroom))));
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

  /** `flow` is over its share from now: its requests in flight count as over-share work. */
  #markOver(p: PoolIsolation, flow: string): void {
    if (p.overFlows.has(flow)) return;
    p.overFlows.add(flow);
    this.#moveInFlight(p, flow, 1);
  }

  /** `flow` is no longer over its share. */
  #markWithin(p: PoolIsolation, flow: string): void {
    if (!p.overFlows.delete(flow)) return;
    this.#moveInFlight(p, flow, -1);
  }

  #moveInFlight(p: PoolIsolation, flow: string, sign: 1 | -1): void {
    if (!p.inFlight.has(flow)) return;
    p.overInFlight += sign * p.inFlight.get(flow)!;
    for (const [id, flows] of p.on) {
      const k = flows.get(flow);
      if (k === undefined) continue;
      const n = (p.overOn.get(id) ?? 0) + sign * k;
      if (n > 0) p.overOn.set(id, n);
      else p.overOn.delete(id);
    }
  }

  #pool(name: string): PoolIsolation {
    let p = this.#pools.get(name);
    if (!p) this.#pools.set(name, (p = new PoolIsolation()));
    return p;
  }
}

const NOTHING = { requests: 0, bytes: 0 };

/** The max-min fair level of `capacity` between `demands` (Infinity when every demand fits). */
function maxMinLevel(demands: number[], capacity: number): number {
  if (demands.length < 2) return Infinity;
  demands.sort((x, y) => x - y);
  let left = capacity;
  for (let i = 0; i < demands.length; i++) {
    const fair = left / (demands.length - i);
    if (demands[i]! > fair) return fair;
    left -= demands[i]!;
  }
  return Infinity;
}

/** One less of `key` (absent at none); true when it was there. */
function decrement(m: Map<string, number>, key: string): boolean {
  const n = m.get(key);
  if (n === undefined) return false;
  if (n > 1) m.set(key, n - 1);
  else m.delete(key);
  return true;
}
