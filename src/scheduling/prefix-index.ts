/**
 * The approximate prefix-cache index of one pool: which prompt-block hashes
 * were recently sent to which endpoint. Each endpoint keeps an LRU of block
 * hashes (a Map's insertion order is its recency order); a reverse map from
 * hash to the endpoints holding it makes a lookup cost proportional to the
 * matched blocks, not to the pool size.
 *
 * Keys are the low 53 bits of the 64-bit block hashes, so they are exact JS
 * numbers (fast Map keys); a false match needs a 2^-53 collision.
 */
export class PrefixIndex {
  readonly #holders = new Map<number, number[]>();
  readonly #lru: Array<Map<number, true>> = [];
  #matched = new Int32Array(64);
  readonly #touched: number[] = [];

  /** Block hashes recorded for an endpoint slot. */
  size(slot: number): number {
    return this.#lru[slot]?.size ?? 0;
  }

  /** Find, per slot, the longest run of leading blocks it holds; read with `matchedFor`, then `reset`. */
  lookup(keys: Float64Array, count: number): void {
    const matched = this.#matched;
    for (let j = 0; j < count; j++) {
      const holders = this.#holders.get(keys[j]!);
      if (holders === undefined) break;
      let advanced = false;
      for (const slot of holders) {
        if (slot >= matched.length) continue;
        if (matched[slot] === j) {
          if (j === 0) this.#touched.push(slot);
          matched[slot] = j + 1;
          advanced = true;
        }
      }
      if (!advanced) break;
    }
  }

  matchedFor(slot: number): number {
    return slot < this.#matched.length ? this.#matched[slot]! : 0;
  }

  reset(): void {
    for (const slot of this.#touched) this.#matched[slot] = 0;
    this.#touched.length = 0;
  }

  /** The endpoint in `slot` now holds these blocks (most recent last). */
  record(slot: number, keys: ArrayLike<number>, count: number, capacity: number): void {
    if (slot >= this.#matched.length) {
      const grown = new Int32Array(Math.max(slot + 1, this.#matched.length * 2));
      grown.set(this.#matched);
      this.#matched = grown;
    }
    let lru = this.#lru[slot];
    if (lru === undefined) {
      lru = new Map();
      this.#lru[slot] = lru;
    }
    for (let j = 0; j < count; j++) {
      const key = keys[j]!;
      if (lru.delete(key)) {
        lru.set(key, true);
        continue;
      }
      lru.set(key, true);
      const holders = this.#holders.get(key);
      if (holders === undefined) this.#holders.set(key, [slot]);
      else holders.push(slot);
    }
    while (lru.size > capacity) {
      const oldest = lru.keys().next().value as number;
      lru.delete(oldest);
      this.#forget(oldest, slot);
    }
  }

  #forget(key: number, slot: number): void {
    const holders = this.#holders.get(key);
    if (holders === undefined) return;
    const at = holders.indexOf(slot);
    if (at >= 0) holders.splice(at, 1);
    if (holders.length === 0) this.#holders.delete(key);
  }
}
