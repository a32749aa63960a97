/**
 * This gateway's own dispatches to one endpoint. The scraped metrics lag
 * the truth by up to a scrape interval (plus the scrape's own latency);
 * every request dispatched after the endpoint's last scrape is invisible in
 * its queue, so a picker that trusts only the snapshot sends a whole
 * interval's arrivals to the same "least loaded" pod. We therefore count,
 * per endpoint, the dispatches made after `scrapedAt` that have not
 * completed: those are exactly the requests the snapshot cannot show
 * (a request dispatched earlier is either in the scraped queue/batch or
 * already finished). Dispatch times come from the gateway clock, scrapedAt
 * from the agent's; on one machine they agree, across machines a skew of a
 * few ms only shifts which requests count.
 */
interface Dispatch {
  /** Position in the dispatch sequence of this endpoint. */
  seq: number;
  at: number;
  done: boolean;
}

/** A count several trackers keep together: the pool's requests in flight, over all of its endpoints. */
export interface SharedCount {
  value: number;
}

export class InFlightTracker {
  /** `pool`: counted with every change of `total` (a pool's trackers share it), when given. */
  constructor(private readonly pool?: SharedCount) {}

  /** Pending (not completed) dispatches, by request key (SchedulingRequest.key). */
  readonly #pending = new Map<string, Dispatch>();
  /** Dispatches in time order; the front is trimmed once older than the last scrape. */
  #queue: Dispatch[] = [];
  #head = 0;
  /** Dispatches ever trimmed from the front: seq below this is reflected in metrics. */
  #trimmed = 0;
  #seq = 0;
  /** Pending dispatches in #queue[#head..]. */
  #unreflected = 0;

  /** All of this gateway's requests to the endpoint that have not finished. */
  get total(): number {
    return this.#pending.size;
  }

  dispatched(key: string, at: number): void {
    const d: Dispatch = { seq: this.#seq++, at, done: false };
    const previous = this.#pending.get(key);
    if (previous) this.#finish(previous);
    else if (this.pool) this.pool.value++;
    this.#pending.set(key, d);
    this.#queue.push(d);
    this.#unreflected++;
    // Finished dispatches at the front no longer matter; without scrapes nothing else trims them.
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.done) {
      this.#head++;
      this.#trimmed++;
    }
  }

  completed(key: string): void {
    const d = this.#pending.get(key);
    if (!d) return;
    this.#pending.delete(key);
    if (this.pool) this.pool.value--;
    this.#finish(d);
  }

  #finish(d: Dispatch): void {
    if (d.done) return;
    d.done = true;
    // Counted as unreflected only while not yet trimmed (trimming skips done ones).
    if (d.seq >= this.#trimmed) this.#unreflected--;
  }

  /** Pending dispatches made after `scrapedAt` (all pending when it is unknown). */
  unreflected(scrapedAt: number | undefined): number {
    if (scrapedAt === undefined) return this.#pending.size;
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.at <= scrapedAt) {
      if (!q[this.#head]!.done) this.#unreflected--;
      this.#head++;
      this.#trimmed++;
    }
    if (this.#head > 64 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
    }
    return this.#unreflected;
  }
}
