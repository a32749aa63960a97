/**
 * Head timeouts of a client's exchanges on one timer, armed for the earliest
 * deadline, instead of a setTimeout and clearTimeout per request: those cost
 * ~0.5 µs on Node and ~2.5 µs on Deno per request, a share of a proxied
 * request worth saving. Deadlines mostly arrive in order (one timeout for
 * all), so the timer is rarely re-armed; when it fires it fails what is due
 * and re-arms for the earliest left.
 *
 * The items waiting are a list linked through the items themselves, not a
 * Set. A long-lived Set that every request enters and leaves is rebuilt every
 * few dozen requests; each table it leaves behind sits in the old generation
 * until the next full collection, and the scavenger must keep alive whatever
 * such a dead table still points to — here the exchange and with it the
 * request's whole graph. At saturation that promoted ~0.8 KB a request to the
 * old generation and made each scavenge several times longer
 * (docs/benchmarks.md, "Gateway overhead"). An item taken off the list has its
 * links cleared, so nothing old points to anything young.
 */
export interface HasDeadline {
  /** When it is due (Date.now() ms). */
  readonly deadline: number;
  timedOut(): void;
  /** The list's own links (null when on no list): an item is on at most one Deadlines at a time. */
  deadlinePrev: HasDeadline | null;
  deadlineNext: HasDeadline | null;
}

export class Deadlines<T extends HasDeadline> {
  #head: T | null = null;
  #tail: T | null = null;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #armedFor = Infinity;

  add(item: T): void {
    if (this.#has(item)) return;
    const tail = this.#tail;
    item.deadlinePrev = tail;
    item.deadlineNext = null;
    if (tail === null) this.#head = item;
    else tail.deadlineNext = item;
    this.#tail = item;
    if (item.deadline < this.#armedFor) this.#arm(item.deadline);
  }

  delete(item: T): void {
    if (!this.#has(item)) return;
    const prev = item.deadlinePrev as T | null;
    const next = item.deadlineNext as T | null;
    if (prev === null) this.#head = next;
    else prev.deadlineNext = next;
    if (next === null) this.#tail = prev;
    else next.deadlinePrev = prev;
    item.deadlinePrev = null;
    item.deadlineNext = null;
  }

  /** Whether `item` is on this list (its links, or being the only item). */
  #has(item: T): boolean {
    return item.deadlinePrev !== null || this.#head === item;
  }

  #arm(at: number): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#armedFor = at;
    this.#timer = setTimeout(this.#fire, Math.max(0, at - Date.now()));
  }

  readonly #fire = (): void => {
    this.#timer = undefined;
    this.#armedFor = Infinity;
    const now = Date.now();
    try {
      // One due item at a time, looked for from the front each time: a timedOut() that deletes, adds or clears
      // items is seen by the rest of the round (due items are at the front when deadlines come in order).
      for (let item = this.#firstDue(now); item !== null; item = this.#firstDue(now)) {
        this.delete(item);
        item.timedOut();
      }
    } finally {
      // Armed for what is left, even after a timedOut() that threw.
      let next = Infinity;
      for (let item = this.#head; item !== null; item = item.deadlineNext as T | null) if (item.deadline < next) next = item.deadline;
      if (next < this.#armedFor) this.#arm(next);
    }
  };

  #firstDue(now: number): T | null {
    for (let item = this.#head; item !== null; item = item.deadlineNext as T | null) if (item.deadline <= now) return item;
    return null;
  }

  /** Stop the timer (the client is closed). */
  clear(): void {
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#armedFor = Infinity;
    while (this.#head !== null) this.delete(this.#head);
  }
}
