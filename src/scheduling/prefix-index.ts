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
  readonly #boundaries: number[] = [];

  /** Block hashes recorded for an endpoint slot. */
  size(slot: number): number {
    return this.#lru[slot]?.size ?? 0;
  }

  /**
   * Find, per slot, the longest run of leading blocks it holds; read with
   * `matchedFor`, then `reset`.
   *
   * `record` inserts a prompt's blocks last-first, so within a slot's LRU an
   * earlier block is never older than a later one and eviction removes
   * suffixes first: the holders of block j+1 are a subset of the holders of
   * block j. Holder-set sizes therefore only shrink along the prompt, equal
   * sizes mean equal sets, and bisecting on size finds the few places where
   * the set changes with O(levels × log blocks) map reads, instead of
   * visiting every holder of every block (a shared system prompt is held by
   * most of the pool).
   */
  lookup(keys: Float64Array, count: number): void {
    if (count === 0) return;
    const size = (j: number) => this.#holders.get(keys[j]!)?.length ?? 0;
    const first = size(0);
    if (first === 0) return;
    const boundaries = this.#boundaries;
    boundaries.length = 0;
    const last = count - 1;
    const lastSize = size(last);
    if (lastSize > 0) boundaries.push(last);
    this.#split(keys, 0, first, last, lastSize, boundaries);
    // Deepest boundary first: its holders matched the most blocks.
    boundaries.sort((a, b) => b - a);
    const matched = this.#matched;
    for (const j of boundaries) {
      for (const slot of this.#holders.get(keys[j]!)!) {
        if (slot < matched.length && matched[slot] === 0) {
          matched[slot] = j + 1;
          this.#touched.push(slot);
        }
      }
    }
  }

  /** Collect each j in [a, b) where the holder set shrinks between j and j+1. */
  #split(keys: Float64Array, a: number, sa: number, b: number, sb: number, out: number[]): void {
    if (sa === sb || a >= b) return;
    if (b === a + 1) {
      out.push(a);
      return;
    }
    const mid = (a + b) >>> 1;
    const sm = this.#holders.get(keys[mid]!)?.length ?? 0;
    this.#split(keys, a, sa, mid, sm, out);
    this.#split(keys, mid, sm, b, sb, out);
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
    // Last block first, so the first blocks are the most recent (see lookup).
    for (let j = count - 1; j >= 0; j--) {
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
