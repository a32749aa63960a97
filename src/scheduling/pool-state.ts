/**
 * What the scheduler remembers about a pool's endpoints between requests:
 * a small integer slot per endpoint (for the prefix index) and this
 * gateway's in-flight dispatches to it.
 */
import { InFlightTracker } from './in-flight.ts';

export interface EndpointRecord {
  readonly slot: number;
  readonly inFlight: InFlightTracker;
  /** Last time the endpoint appeared in a snapshot or received a request. */
  lastSeen: number;
}

export class PoolState {
  readonly #records = new Map<string, EndpointRecord>();
  #nextSlot = 0;

  record(endpointId: string, now: number): EndpointRecord {
    let r = this.#records.get(endpointId);
    if (r === undefined) {
      r = { slot: this.#nextSlot++, inFlight: new InFlightTracker(), lastSeen: now };
      this.#records.set(endpointId, r);
    } else {
      r.lastSeen = now;
    }
    return r;
  }

  /** The record of an endpoint, if it has one (without creating or touching it). */
  peek(endpointId: string): EndpointRecord | undefined {
    return this.#records.get(endpointId);
  }

  #lastEndpoints: readonly { id: string }[] | undefined;
  #lastRecords: EndpointRecord[] = [];

  /**
   * Records for a snapshot's endpoints, by position. Snapshots are reused
   * between scrapes, so the same array gets the same records without a map
   * lookup per endpoint per decision.
   */
  recordsFor(endpoints: readonly { id: string }[], now: number): EndpointRecord[] {
    if (endpoints !== this.#lastEndpoints || this.#lastRecords.length !== endpoints.length) {
      this.#lastRecords = endpoints.map((e) => this.record(e.id, now));
      this.#lastEndpoints = endpoints;
    }
    return this.#lastRecords;
  }

  get size(): number {
    return this.#records.size;
  }

  /** Forget endpoints unseen for `idleMs` with nothing in flight (pods come and go). */
  prune(now: number, idleMs: number): void {
    for (const r of this.#lastRecords) r.lastSeen = now;
    for (const [id, r] of this.#records) {
      if (now - r.lastSeen > idleMs && r.inFlight.total === 0) this.#records.delete(id);
    }
    this.#lastEndpoints = undefined;
  }
}
