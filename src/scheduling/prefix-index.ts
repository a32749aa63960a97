/**
 * The approximate prefix-cache index of one pool: which prompt-block hashes
 * were recently sent to which endpoint.
 *
 * Everything lives in typed arrays, so recording a 256-block prompt or
 * looking one up allocates nothing (the arrays double now and then while the
 * index fills). Three structures:
 * - a *key* per distinct block hash held by any endpoint (`#keys`: hash → key
 *   id), with its holder count and a doubly linked list of its holders;
 * - a *node* per (key, endpoint slot) held (`#nodes`: (key id, slot) → node
 *   id), linked into its key's holder list and into its endpoint's LRU list
 *   (newest first);
 * - per slot: LRU head, tail and size.
 *
 * Hashes are the kernel's u64 block hashes as (lo, hi) u32 pairs, compared in
 * full (a false match needs a 2^-64 collision).
 */
import { PairMap } from './pair-map.ts';

const NONE = -1;

export class PrefixIndex {
  readonly #keys = new PairMap(1024);
  readonly #nodes = new PairMap(1024);

  // Keys, by key id.
  #keyLo = new Int32Array(1024);
  #keyHi = new Int32Array(1024);
  #holders = new Int32Array(1024);
  #firstHolder = new Int32Array(1024);
  #keyTop = 0;
  #keyFree = NONE;

  // Nodes, by node id. A free node is chained through #newer.
  #nodeKey = new Int32Array(1024);
  #nodeSlot = new Int32Array(1024);
  #older = new Int32Array(1024);
  #newer = new Int32Array(1024);
  #nextHolder = new Int32Array(1024);
  #prevHolder = new Int32Array(1024);
  #nodeTop = 0;
  #nodeFree = NONE;

  // Per endpoint slot.
  #newest = new Int32Array(64).fill(NONE);
  #oldest = new Int32Array(64).fill(NONE);
  #size = new Int32Array(64);

  // Lookup scratch.
  #matched = new Int32Array(64);
  #touched = new Int32Array(64);
  #touchedCount = 0;
  #boundaries = new Int32Array(64);
  #boundaryCount = 0;

  /** Block hashes recorded for an endpoint slot. */
  size(slot: number): number {
    return slot < this.#size.length ? this.#size[slot]! : 0;
  }

  /** Distinct block hashes held by any endpoint, and (key, endpoint) entries (tests, metrics). */
  get totals(): { keys: number; entries: number } {
    return { keys: this.#keys.size, entries: this.#nodes.size };
  }

  /**
   * Find, per slot, the longest run of leading blocks it holds; read with
   * `matchedFor`, then `reset`. `hashes` holds (lo, hi) pairs: block j at 2j.
   *
   * `record` inserts a prompt's blocks last-first, so within a slot's LRU an
   * earlier block is never older than a later one and eviction removes
   * suffixes first: the holders of block j+1 are a subset of the holders of
   * block j. Holder counts therefore only shrink along the prompt, equal
   * counts mean equal sets, and bisecting on the count finds the few places
   * where the set changes with O(levels × log blocks) probes, instead of
   * visiting every holder of every block (a shared system prompt is held by
   * most of the pool).
   */
  lookup(hashes: ArrayLike<number>, count: number): void {
    if (count === 0) return;
    const first = this.#holdersOf(hashes, 0);
    if (first === 0) return;
    const last = count - 1;
    const lastCount = this.#holdersOf(hashes, last);
    this.#boundaryCount = 0;
    if (this.#boundaries.length < count) this.#boundaries = new Int32Array(Math.max(count, this.#boundaries.length * 2));
    this.#split(hashes, 0, first, last, lastCount);
    if (lastCount > 0) this.#boundaries[this.#boundaryCount++] = last;
    // Deepest boundary first: its holders matched the most blocks.
    const matched = this.#matched;
    for (let b = this.#boundaryCount - 1; b >= 0; b--) {
      const j = this.#boundaries[b]!;
      const key = this.#keys.get(hashes[2 * j]!, hashes[2 * j + 1]!);
      for (let node = this.#firstHolder[key]!; node !== NONE; node = this.#nextHolder[node]!) {
        const slot = this.#nodeSlot[node]!;
        if (matched[slot] === 0) {
          matched[slot] = j + 1;
          this.#touched[this.#touchedCount++] = slot;
        }
      }
    }
  }

  /** Append, in ascending order, each j in [a, b) where the holder set shrinks between j and j+1. */
  #split(hashes: ArrayLike<number>, a: number, ca: number, b: number, cb: number): void {
    if (ca === cb || a >= b) return;
    if (b === a + 1) {
      this.#boundaries[this.#boundaryCount++] = a;
      return;
    }
    const mid = (a + b) >>> 1;
    const cm = this.#holdersOf(hashes, mid);
    this.#split(hashes, a, ca, mid, cm);
    this.#split(hashes, mid, cm, b, cb);
  }

  #holdersOf(hashes: ArrayLike<number>, j: number): number {
    const key = this.#keys.get(hashes[2 * j]!, hashes[2 * j + 1]!);
    return key === NONE ? 0 : this.#holders[key]!;
  }

  matchedFor(slot: number): number {
    return slot < this.#matched.length ? this.#matched[slot]! : 0;
  }

  reset(): void {
    const matched = this.#matched;
    for (let i = 0; i < this.#touchedCount; i++) matched[this.#touched[i]!] = 0;
    this.#touchedCount = 0;
  }

  /**
   * The endpoint in `slot` now holds these blocks ((lo, hi) pairs, the first
   * block most recent), and keeps at most `capacity` of all it was sent.
   * Block j's pair is at `offset + 2j`.
   */
  record(slot: number, hashes: ArrayLike<number>, count: number, capacity: number, offset = 0): void {
    this.#ensureSlot(slot);
    // Last block first, so the first blocks are the most recent (see lookup).
    for (let j = count - 1; j >= 0; j--) {
      const lo = hashes[offset + 2 * j]! | 0;
      const hi = hashes[offset + 2 * j + 1]! | 0;
      let key = this.#keys.get(lo, hi);
      if (key === NONE) {
        key = this.#newKey(lo, hi);
      } else {
        const node = this.#nodes.get(key, slot);
        if (node !== NONE) {
          this.#touch(slot, node);
          continue;
        }
      }
      this.#addNode(key, slot);
    }
    const limit = Math.max(1, capacity);
    while (this.#size[slot]! > limit) this.#evict(this.#oldest[slot]!);
  }

  #newKey(lo: number, hi: number): number {
    let key = this.#keyFree;
    if (key !== NONE) {
      this.#keyFree = this.#firstHolder[key]!;
    } else {
      key = this.#keyTop++;
      if (key === this.#keyLo.length) this.#growKeys();
    }
    this.#keyLo[key] = lo;
    this.#keyHi[key] = hi;
    this.#holders[key] = 0;
    this.#firstHolder[key] = NONE;
    this.#keys.set(lo, hi, key);
    return key;
  }

  #addNode(key: number, slot: number): void {
    let node = this.#nodeFree;
    if (node !== NONE) {
      this.#nodeFree = this.#newer[node]!;
    } else {
      node = this.#nodeTop++;
      if (node === this.#nodeKey.length) this.#growNodes();
    }
    this.#nodeKey[node] = key;
    this.#nodeSlot[node] = slot;
    this.#nodes.set(key, slot, node);
    // Front of the key's holder list.
    const head = this.#firstHolder[key]!;
    this.#prevHolder[node] = NONE;
    this.#nextHolder[node] = head;
    if (head !== NONE) this.#prevHolder[head] = node;
    this.#firstHolder[key] = node;
    this.#holders[key]!++;
    // Newest in the slot's LRU.
    this.#linkNewest(slot, node);
    this.#size[slot]!++;
  }

  #evict(node: number): void {
    const slot = this.#nodeSlot[node]!;
    const key = this.#nodeKey[node]!;
    this.#unlink(slot, node);
    this.#size[slot]!--;
    const prev = this.#prevHolder[node]!;
    const next = this.#nextHolder[node]!;
    if (prev !== NONE) this.#nextHolder[prev] = next;
    else this.#firstHolder[key] = next;
    if (next !== NONE) this.#prevHolder[next] = prev;
    this.#nodes.delete(key, slot);
    this.#newer[node] = this.#nodeFree;
    this.#nodeFree = node;
    if (--this.#holders[key]! === 0) {
      this.#keys.delete(this.#keyLo[key]!, this.#keyHi[key]!);
      this.#firstHolder[key] = this.#keyFree;
      this.#keyFree = key;
    }
  }

  #touch(slot: number, node: number): void {
    if (this.#newest[slot] === node) return;
    this.#unlink(slot, node);
    this.#linkNewest(slot, node);
  }

  #linkNewest(slot: number, node: number): void {
    const head = this.#newest[slot]!;
    this.#newer[node] = NONE;
    this.#older[node] = head;
    if (head !== NONE) this.#newer[head] = node;
    else this.#oldest[slot] = node;
    this.#newest[slot] = node;
  }

  #unlink(slot: number, node: number): void {
    const older = this.#older[node]!;
    const newer = this.#newer[node]!;
    if (newer !== NONE) this.#older[newer] = older;
    else this.#newest[slot] = older;
    if (older !== NONE) this.#newer[older] = newer;
    else this.#oldest[slot] = newer;
  }

  #ensureSlot(slot: number): void {
    if (slot < this.#size.length) return;
    const n = Math.max(slot + 1, this.#size.length * 2);
    this.#newest = grown(this.#newest, n, NONE);
    this.#oldest = grown(this.#oldest, n, NONE);
    this.#size = grown(this.#size, n, 0);
    this.#matched = grown(this.#matched, n, 0);
    this.#touched = grown(this.#touched, n, 0);
  }

  #growKeys(): void {
    const n = this.#keyLo.length * 2;
    this.#keyLo = grown(this.#keyLo, n, 0);
    this.#keyHi = grown(this.#keyHi, n, 0);
    this.#holders = grown(this.#holders, n, 0);
    this.#firstHolder = grown(this.#firstHolder, n, NONE);
  }

  #growNodes(): void {
    const n = this.#nodeKey.length * 2;
    this.#nodeKey = grown(this.#nodeKey, n, 0);
    this.#nodeSlot = grown(this.#nodeSlot, n, 0);
    this.#older = grown(this.#older, n, NONE);
    this.#newer = grown(this.#newer, n, NONE);
    this.#nextHolder = grown(this.#nextHolder, n, NONE);
    this.#prevHolder = grown(this.#prevHolder, n, NONE);
  }
}

function grown(a: Int32Array, n: number, fill: number): Int32Array<ArrayBuffer> {
  const b = new Int32Array(n);
  b.set(a);
  if (fill !== 0) b.fill(fill, a.length);
  return b;
}
