/**
 * The simplest sound picker: the ready endpoint with the fewest of this
 * gateway's own in-flight requests, ties broken at random.
 */
import type { Pool } from '../routing/schema.ts';
import type { Endpoint, PoolSnapshot } from '../endpoints/types.ts';
import type { Decision, Scheduler, SchedulingRequest } from './scheduler.ts';

export class LeastInFlightScheduler implements Scheduler {
  readonly #inFlight = new Map<string, number>();

  constructor(private readonly random: () => number = Math.random) {}

  decide(_pool: Pool, snapshot: PoolSnapshot, _request: SchedulingRequest): Decision {
    const ready = snapshot.endpoints.filter((e) => e.ready);
    if (ready.length === 0) return { kind: 'unavailable', reason: `pool "${snapshot.pool}" has no ready endpoint` };
    // Shuffle first so equal counts are chosen at random, then a stable sort by load.
    const order = ready.map((e) => ({ e, load: this.#inFlight.get(e.id) ?? 0, r: this.random() }));
    order.sort((a, b) => a.load - b.load || a.r - b.r);
    return { kind: 'route', endpoint: order[0]!.e, fallbacks: order.slice(1).map((o) => o.e) };
  }

  dispatched(_pool: Pool, endpoint: Endpoint): void {
    this.#inFlight.set(endpoint.id, (this.#inFlight.get(endpoint.id) ?? 0) + 1);
  }

  completed(_pool: Pool, endpoint: Endpoint): void {
    const n = (this.#inFlight.get(endpoint.id) ?? 1) - 1;
    if (n <= 0) this.#inFlight.delete(endpoint.id);
    else this.#inFlight.set(endpoint.id, n);
  }
}
