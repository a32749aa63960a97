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

/** A snapshot's ready endpoints, and this gateway's requests in flight on them (see PoolState.onReady). */
export interface ReadyInFlight {
  ready: number;
  inFlight: number;
}

export class PoolState {
  readonly #records = new Map<string, EndpointRecord>();
  #nextSlot = 0;
  /** This gateway's requests in flight to any endpoint it has a record of (the trackers keep it). */
  readonly #inFlight = { value: 0 };
  /** Bumped whenever a record is added or forgotten. */
  #recordsVersion = 0;

  record(endpointId: string, now: number): EndpointRecord {
    let r = this.#records.get(endpointId);
    if (r === undefined) {
      r = { slot: this.#nextSlot++, inFlight: new InFlightTracker(this.#inFlight), lastSeen: now };
      this.#records.set(endpointId, r);
      this.#recordsVersion++;
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

  #readyFor: readonly { id: string; ready: boolean }[] | undefined;
  #readyVersion = -1;
  /** The records whose requests do not count against the ready endpoints: endpoints not ready, or not in the snapshot. */
  #others: InFlightTracker[] = [];
  readonly #onReady: ReadyInFlight = { ready: 0, inFlight: 0 };

  /**
   * How many of a snapshot's endpoints are ready, and this gateway's requests
   * in flight on those — what flow control's concurrency detector compares,
   * per request, without a pass over the endpoints: the pool's total less
   * what is in flight on endpoints not ready or no longer listed (found once
   * per snapshot, as snapshots are immutable and a new one is a new array,
   * and again when records come or go). The object returned is reused: read
   * it before the next call.
   */
  onReady(endpoints: readonly { id: string; ready: boolean }[]): Readonly<ReadyInFlight> {
    const view = this.#onReady;
    if (endpoints !== this.#readyFor || this.#recordsVersion !== this.#readyVersion) {
      const ready = new Set<string>();
      for (const e of endpoints) if (e.ready) ready.add(e.id);
      this.#others = [];
      for (const [id, r] of this.#records) if (!ready.has(id)) this.#others.push(r.inFlight);
      view.ready = ready.size;
      this.#readyFor = endpoints;
      this.#readyVersion = this.#recordsVersion;
    }
    let n = this.#inFlight.value;
    for (const t of this.#others) n -= t.total;
    view.inFlight = n;
    return view;
  }

  get size(): number {
    return this.#records.size;
  }

  /** Forget endpoints unseen for `idleMs` with nothing in flight (pods come and go). */
  prune(now: number, idleMs: number): void {
    for (const r of this.#lastRecords) r.lastSeen = now;
    for (const [id, r] of this.#records) {
      if (now - r.lastSeen > idleMs && r.inFlight.total === 0) {
        this.#records.delete(id);
        this.#recordsVersion++;
      }
    }
    this.#lastEndpoints = undefined;
  }
}
