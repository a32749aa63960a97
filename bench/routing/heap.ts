/** A min-heap of (time, engine) with lazy deletion: an entry counts only if its stamp is the engine's current one. */
export class EventHeap {
  #time: number[] = [];
  #who: number[] = [];
  #stamp: number[] = [];
  readonly #current: Int32Array;

  constructor(engines: number) {
    this.#current = new Int32Array(engines);
  }

  /** Sets engine `i`'s next event (replacing any earlier one); Infinity or < 0 clears it. */
  set(i: number, time: number): void {
    const stamp = ++this.#current[i]!;
    if (!(time >= 0) || time === Infinity) return;
    const t = this.#time, w = this.#who, s = this.#stamp;
    let k = t.length;
    t.push(time); w.push(i); s.push(stamp);
    while (k > 0) {
      const p = (k - 1) >> 1;
      if (t[p]! <= time) break;
      t[k] = t[p]!; w[k] = w[p]!; s[k] = s[p]!;
      k = p;
    }
    t[k] = time; w[k] = i; s[k] = stamp;
  }

  /** Time of the earliest live event, or Infinity. */
  peek(): number {
    while (this.#time.length > 0 && this.#stamp[0] !== this.#current[this.#who[0]!]) this.#pop();
    return this.#time.length > 0 ? this.#time[0]! : Infinity;
  }

  /** Removes the earliest live event and returns its engine (call after peek). */
  take(): number {
    const who = this.#who[0]!;
    this.#current[who]!++;
    this.#pop();
    return who;
  }

  #pop(): void {
    const t = this.#time, w = this.#who, s = this.#stamp;
    const lt = t.pop()!, lw = w.pop()!, ls = s.pop()!;
    const n = t.length;
    if (n === 0) return;
    let k = 0;
    for (;;) {
      let c = 2 * k + 1;
      if (c >= n) break;
      if (c + 1 < n && t[c + 1]! < t[c]!) c++;
      if (t[c]! >= lt) break;
      t[k] = t[c]!; w[k] = w[c]!; s[k] = s[c]!;
      k = c;
    }
    t[k] = lt; w[k] = lw; s[k] = ls;
  }
}
