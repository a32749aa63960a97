/**
 * One pool's queues: priority bands (a higher band is always served first),
 * in each band a queue per flow (fairness id), and a policy for each level —
 * between flows round robin or global-strict (the best head of the whole
 * band), within a flow first come first served or earliest deadline first.
 */
import type { BandConfig } from './config.ts';
import type { PushOutPlan } from './push-out.ts';

export interface QueuedRequest {
  readonly requestId: string;
  readonly priority: number;
  readonly flow: string;
  readonly bytes: number;
  /** What flow isolation counts of it (its prompt's characters; its bytes when not given). */
  readonly weight?: number;
  /** Arrival order, for FCFS. */
  readonly seq: number;
  readonly enqueuedAt: number;
  /** When its TTL runs out, ms (Infinity: never). */
  readonly expiresAt: number;
  /** Its deadline for EDF ordering (the TTL's end, or enqueue time + x-llm-d-slo-ttft-ms). */
  readonly deadline: number;
  queued: boolean;
}

class Flow {
  readonly items: QueuedRequest[] = [];
  head = 0;

  get size(): number {
    return this.items.length - this.head;
  }

  push(item: QueuedRequest, byDeadline: boolean): void {
    if (!byDeadline) {
      this.items.push(item);
      return;
    }
    // Insert in deadline order (FCFS among equals); flows are short, and a tail insert is the common case.
    let i = this.items.length;
    while (i > this.head && before(item, this.items[i - 1]!)) i--;
    this.items.splice(i, 0, item);
  }

  /** The last still-queued item in its order (the newest, or the latest deadline), not counting those `plan` already chose. */
  last(plan?: PushOutPlan): QueuedRequest | undefined {
    for (let i = this.items.length - 1; i >= this.head; i--) if (this.items[i]!.queued && !plan?.has(this.items[i]!)) return this.items[i];
    return undefined;
  }

  /** The first still-queued item (dropping any taken out meanwhile). */
  peek(): QueuedRequest | undefined {
    while (this.head < this.items.length && !this.items[this.head]!.queued) this.head++;
    if (this.head > 32 && this.head * 2 > this.items.length) {
      this.items.splice(0, this.head);
      this.head = 0;
    }
    return this.items[this.head];
  }
}

function before(a: QueuedRequest, b: QueuedRequest): boolean {
  return a.deadline < b.deadline || (a.deadline === b.deadline && a.seq < b.seq);
}

export class Band {
  readonly flows = new Map<string, Flow>();
  /** Flows with something queued, in round-robin order. */
  #ring: string[] = [];
  #turn = 0;
  count = 0;
  bytes = 0;
  /** Requests and bytes queued per flow in this band (flows with none are absent). */
  readonly flowCount = new Map<string, number>();
  readonly flowBytes = new Map<string, number>();

  constructor(
    readonly priority: number,
    readonly config: BandConfig,
  ) {}

  push(item: QueuedRequest): void {
    let flow = this.flows.get(item.flow);
    if (!flow) this.flows.set(item.flow, (flow = new Flow()));
    if (flow.size === 0 && !this.#ring.includes(item.flow)) this.#ring.push(item.flow);
    flow.push(item, this.config.ordering !== 'fcfs-ordering-policy');
    this.count++;
    this.bytes += item.bytes;
    this.flowCount.set(item.flow, (this.flowCount.get(item.flow) ?? 0) + 1);
    this.flowBytes.set(item.flow, (this.flowBytes.get(item.flow) ?? 0) + item.bytes);
  }

  /** Account for an item leaving the queue (dispatched, expired, its client gone, pushed out). */
  removed(item: QueuedRequest): void {
    this.count--;
    this.bytes -= item.bytes;
    const n = this.flowCount.get(item.flow)! - 1;
    if (n > 0) this.flowCount.set(item.flow, n);
    else this.flowCount.delete(item.flow);
    const b = this.flowBytes.get(item.flow)! - item.bytes;
    if (n > 0) this.flowBytes.set(item.flow, b);
    else this.flowBytes.delete(item.flow);
  }

  /**
   * When this band is full: the newest request of the flow with the most
   * waiting in it (by requests, or by bytes when `byBytes`), if that flow has
   * more waiting than `flow` would with one more. A full queue then refuses
   * the flow that filled it, not the next flow to arrive. What `plan` chose
   * already counts as gone.
   */
  pushOutCandidate(flow: string, bytes: number, byBytes: boolean, plan?: PushOutPlan): QueuedRequest | undefined {
    return this.#newestOfFattest(byBytes, flow, this.#waiting(flow, byBytes, plan) + (byBytes ? bytes : 1), plan);
  }

  /** The newest request of the flow with the most waiting, whatever the arriving flow (a lower band making room for a higher one). */
  newestOfFattest(byBytes: boolean, plan?: PushOutPlan): QueuedRequest | undefined {
    return this.#newestOfFattest(byBytes, undefined, 0, plan);
  }

  /** What `flow` has waiting in this band, by requests or bytes, less what `plan` chose of it. */
  #waiting(flow: string, byBytes: boolean, plan: PushOutPlan | undefined): number {
    const n = (byBytes ? this.flowBytes : this.flowCount).get(flow) ?? 0;
    if (!plan) return n;
    const chosen = plan.flow(this.priority, flow);
    return n - (byBytes ? chosen.bytes : chosen.count);
  }

  #newestOfFattest(byBytes: boolean, except: string | undefined, above: number, plan: PushOutPlan | undefined): QueuedRequest | undefined {
    let fattest: string | undefined;
    let most = above;
    for (const f of (byBytes ? this.flowBytes : this.flowCount).keys()) {
      if (f === except) continue;
      const n = this.#waiting(f, byBytes, plan);
      if (n > most) {
        most = n;
        fattest = f;
      }
    }
    return fattest === undefined ? undefined : this.flows.get(fattest)?.last(plan);
  }

  /** The next item by the band's fairness policy among the flows `eligible` allows (all when absent), taken out of the queue. */
  take(eligible?: (flow: string) => boolean): QueuedRequest | undefined {
    const item = this.config.fairness === 'round-robin-fairness-policy' ? this.#roundRobin(eligible) : this.#globalStrict(eligible);
    if (item) {
      item.queued = false;
      this.removed(item);
    }
    return item;
  }

  #roundRobin(eligible: ((flow: string) => boolean) | undefined): QueuedRequest | undefined {
    const start = eligible && this.#ring[this.#turn >= this.#ring.length ? 0 : this.#turn];
    for (let tries = this.#ring.length; tries > 0; tries--) {
      if (this.#turn >= this.#ring.length) this.#turn = 0;
      const id = this.#ring[this.#turn]!;
      const flow = this.flows.get(id)!;
      const item = flow.peek();
      if (!item) {
        // Nothing left in this flow: it leaves the ring (and the map, so idle tenants cost nothing).
        this.#ring.splice(this.#turn, 1);
        this.flows.delete(id);
        continue;
      }
      if (eligible && !eligible(id)) {
        // Passed over for now; the ring comes back to it.
        this.#turn++;
        continue;
      }
      flow.head++;
      this.#turn++;
      return item;
    }
    // Nothing could go: the turn stays with the flow that had it (without `eligible` every flow was empty).
    if (eligible) {
      const k = start ? this.#ring.indexOf(start) : -1;
      this.#turn = k >= 0 ? k : 0;
    }
    return undefined;
  }

  #globalStrict(eligible: ((flow: string) => boolean) | undefined): QueuedRequest | undefined {
    let best: QueuedRequest | undefined;
    let bestFlow: Flow | undefined;
    const byDeadline = this.config.ordering !== 'fcfs-ordering-policy';
    for (const [id, flow] of this.flows) {
      const item = flow.peek();
      if (!item) {
        this.flows.delete(id);
        const k = this.#ring.indexOf(id);
        if (k >= 0) this.#ring.splice(k, 1);
        continue;
      }
      if (eligible && !eligible(id)) continue;
      if (!best || (byDeadline ? before(item, best) : item.seq < best.seq)) {
        best = item;
        bestFlow = flow;
      }
    }
    if (bestFlow) bestFlow.head++;
    return best;
  }
}

/** The bands of one pool, highest priority first. */
export class PoolQueues {
  readonly #bands = new Map<number, Band>();
  #order: Band[] = [];
  count = 0;
  bytes = 0;
  /** Weight queued per flow, every band (flows with none are absent). */
  readonly flowWeight = new Map<string, number>();
  /** Requests queued per flow, every band (flows with none are absent). */
  readonly flowCount = new Map<string, number>();

  band(priority: number, config: BandConfig): Band {
    let band = this.#bands.get(priority);
    if (!band) {
      band = new Band(priority, config);
      this.#bands.set(priority, band);
      this.#order = [...this.#bands.values()].sort((a, b) => b.priority - a.priority);
    }
    return band;
  }

  push(band: Band, item: QueuedRequest): void {
    band.push(item);
    this.count++;
    this.bytes += item.bytes;
    this.flowWeight.set(item.flow, (this.flowWeight.get(item.flow) ?? 0) + (item.weight ?? item.bytes));
    this.flowCount.set(item.flow, (this.flowCount.get(item.flow) ?? 0) + 1);
  }

  #left(item: QueuedRequest): void {
    this.count--;
    this.bytes -= item.bytes;
    const left = this.flowWeight.get(item.flow)! - (item.weight ?? item.bytes);
    if (left > 0) this.flowWeight.set(item.flow, left);
    else this.flowWeight.delete(item.flow);
    const n = this.flowCount.get(item.flow)! - 1;
    if (n > 0) this.flowCount.set(item.flow, n);
    else this.flowCount.delete(item.flow);
  }

  /**
   * When the pool-wide limits are full and a request of `priority` arrives: a
   * request of the lowest band below it that has any (the newest of its flow
   * with the most waiting) to make room — lower-priority traffic that filled
   * the pool does not lock a higher priority out. What `plan` chose already
   * counts as gone.
   */
  lowerPushOutCandidate(priority: number, byBytes: boolean, plan?: PushOutPlan): QueuedRequest | undefined {
    for (let i = this.#order.length - 1; i >= 0; i--) {
      const band = this.#order[i]!;
      if (band.priority >= priority) return undefined;
      if (band.count - (plan?.band(band.priority).count ?? 0) > 0) return band.newestOfFattest(byBytes, plan);
    }
    return undefined;
  }

  /**
   * The next request to dispatch: the highest band with anything queued
   * decides — among the flows `eligible` allows, when given (flow isolation:
   * a flow whose endpoints are full does not hold back one whose are not).
   */
  take(eligible?: (flow: string) => boolean): QueuedRequest | undefined {
    for (const band of this.#order) {
      if (band.count === 0) continue;
      const item = band.take(eligible);
      if (item) {
        this.#left(item);
        return item;
      }
    }
    return undefined;
  }

  /** Take an item out before its turn (expired, or its client went away). */
  remove(item: QueuedRequest): void {
    if (!item.queued) return;
    item.queued = false;
    this.#bands.get(item.priority)?.removed(item);
    this.#left(item);
  }

  /** Per band and flow: what is queued (for metrics and the dashboard). */
  *sizes(): Generator<{ priority: number; flow: string; requests: number; bytes: number }> {
    for (const band of this.#order) {
      for (const [flow, f] of band.flows) {
        let requests = 0;
        let bytes = 0;
        for (let i = f.head; i < f.items.length; i++) {
          const item = f.items[i]!;
          if (!item.queued) continue;
          requests++;
          bytes += item.bytes;
        }
        if (requests) yield { priority: band.priority, flow, requests, bytes };
      }
    }
  }
}
