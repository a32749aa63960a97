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

/**
 * What a trimmed slot of the queue holds: the queue (long-lived, so in the old generation) points at no dispatch it
 * is done with, or the scavenger would keep each alive and promote it (see packages/http1/src/deadlines.ts).
 */
const TRIMMED: Dispatch = { seq: -1, at: -Infinity, done: true };

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
  /** Dispatches with a lower seq were trimmed from the front (are reflected in metrics) or had finished. */
  #trimmedSeq = 0;
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
      this.#trimmedSeq = q[this.#head]!.seq + 1;
      q[this.#head++] = TRIMMED;
    }
    this.#compact();
  }

  /** Dispatch records held, trimmed slots included: a few times the pending ones at most, plus a few dozen. */
  get held(): number {
    return this.#queue.length;
  }

  /**
   * Drop the trimmed front once it is most of the queue, and finished dispatches behind a pending one once they
   * are most of what is left: a request that runs for minutes at the front, with no scrape to trim it by time,
   * would otherwise keep every later dispatch until it ends.
   */
  #compact(): void {
    const q = this.#queue;
    const left = q.length - this.#head;
    if (left > 2 * this.#pending.size + 64) {
      const kept: Dispatch[] = [];
      for (let i = this.#head; i < q.length; i++) {
        const d = q[i]!;
        if (!d.done) kept.push(d);
        q[i] = TRIMMED;
      }
      this.#queue = kept;
      this.#head = 0;
    } else if (this.#head > 64 && this.#head * 2 > q.length) {
      this.#queue = q.slice(this.#head);
      this.#head = 0;
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
    if (d.seq >= this.#trimmedSeq) this.#unreflected--;
  }

  /** Pending dispatches made after `scrapedAt` (all pending when it is unknown). */
  unreflected(scrapedAt: number | undefined): number {
    if (scrapedAt === undefined) return this.#pending.size;
    const q = this.#queue;
    while (this.#head < q.length && q[this.#head]!.at <= scrapedAt) {
      const d = q[this.#head]!;
      if (!d.done) this.#unreflected--;
      this.#trimmedSeq = d.seq + 1;
      q[this.#head++] = TRIMMED;
    }
    this.#compact();
    return this.#unreflected;
  }
}
