/**
 * The KV cache as vLLM V1 keeps it: a pool of fixed-size blocks with reference
 * counts, a free queue ordered for eviction (least recently freed first), and
 * a map from block hash to the block that holds those tokens. A freed block
 * keeps its hash and can be hit again until it is handed out for new tokens.
 *
 * Everything lives in typed arrays; the free queue is an intrusive doubly
 * linked list so taking a cached block out of it is O(1).
 */
/** Told when cached hashes leave the cache (for KV events). */
export interface KvCacheObserver {
  /** Block `id` lost its hash: it was handed out for new tokens (vLLM's eviction). */
  evicted(id: number): void;
  /** Every hash was dropped at once (reset_prefix_cache). */
  cleared(): void;
}

export class KvCache {
  observer: KvCacheObserver | undefined;
  readonly numBlocks: number;
  readonly blockSize: number;
  private readonly refs: Int32Array;
  private readonly prev: Int32Array;
  private readonly next: Int32Array;
  /** Hash held by each block, or -1. */
  private readonly hashOf: Float64Array;
  private readonly byHash = new Map<number, number>();
  private head = -1;
  private tail = -1;
  private freeCount = 0;

  constructor(numBlocks: number, blockSize: number) {
    this.numBlocks = numBlocks;
    this.blockSize = blockSize;
    this.refs = new Int32Array(numBlocks);
    this.prev = new Int32Array(numBlocks);
    this.next = new Int32Array(numBlocks);
    this.hashOf = new Float64Array(numBlocks).fill(-1);
    for (let i = 0; i < numBlocks; i++) this.pushFree(i);
  }

  /** Blocks not held by any sequence (cached-but-free ones included, as vLLM counts them). */
  get free(): number {
    return this.freeCount;
  }

  /** Fraction of blocks held by sequences (vLLM's kv_cache_usage_perc). */
  get usage(): number {
    return 1 - this.freeCount / this.numBlocks;
  }

  /** Calls `fn` with every block id that holds a hash (tests compare it with published events). */
  forEachCached(fn: (id: number) => void): void {
    for (let id = 0; id < this.numBlocks; id++) if (this.hashOf[id]! >= 0) fn(id);
  }

  /** Blocks that still hold a hash (hit-able). */
  get cachedBlocks(): number {
    return this.byHash.size;
  }

  /**
   * Takes the longest run of cached blocks matching `hashes` from the start,
   * at most `limit` blocks, appending their ids to `out`. Returns the count.
   */
  acquireCached(hashes: readonly number[], limit: number, out: number[]): number {
    const n = Math.min(limit, hashes.length);
    let i = 0;
    for (; i < n; i++) {
      const id = this.byHash.get(hashes[i]!);
      if (id === undefined) break;
      if (this.refs[id] === 0) this.unlinkFree(id);
      this.refs[id]!++;
      out.push(id);
    }
    return i;
  }

  /** Appends `count` fresh blocks to `out`, evicting cached hashes; false (and nothing taken) if too few are free. */
  allocate(count: number, out: number[]): boolean {
    if (count > this.freeCount) return false;
    for (let k = 0; k < count; k++) {
      const id = this.head;
      this.unlinkFree(id);
      const h = this.hashOf[id]!;
      if (h >= 0) {
        this.observer?.evicted(id);
        if (this.byHash.get(h) === id) this.byHash.delete(h);
        this.hashOf[id] = -1;
      }
      this.refs[id] = 1;
      out.push(id);
    }
    return true;
  }

  /** Records that a held block now holds the tokens with this hash; false when it is not cached (see below). */
  register(id: number, hash: number): boolean {
    if (this.hashOf[id]! >= 0) return false;
    if (this.byHash.has(hash)) return false; // an identical block exists; keep the first
    this.hashOf[id] = hash;
    this.byHash.set(hash, id);
    return true;
  }

  /**
   * Drops every cached hash (vLLM's reset_prefix_cache). Like vLLM it refuses
   * while any block is held by a running request; returns whether it ran.
   */
  resetPrefixCache(): boolean {
    if (this.freeCount !== this.numBlocks) return false;
    this.byHash.clear();
    this.hashOf.fill(-1);
    this.observer?.cleared();
    return true;
  }

  /**
   * Releases a sequence's blocks. Tail blocks go into the free queue first so
   * they are evicted before the shared prefix (vLLM frees in reverse order).
   */
  release(blocks: number[]): void {
    for (let i = blocks.length - 1; i >= 0; i--) {
      const id = blocks[i]!;
      if (--this.refs[id]! === 0) this.pushFree(id);
    }
    blocks.length = 0;
  }

  private pushFree(id: number): void {
    this.prev[id] = this.tail;
    this.next[id] = -1;
    if (this.tail >= 0) this.next[this.tail] = id;
    else this.head = id;
    this.tail = id;
    this.freeCount++;
  }

  private unlinkFree(id: number): void {
    const p = this.prev[id]!;
    const n = this.next[id]!;
    if (p >= 0) this.next[p] = n;
    else this.head = n;
    if (n >= 0) this.prev[n] = p;
    else this.tail = p;
    this.freeCount--;
  }
}
