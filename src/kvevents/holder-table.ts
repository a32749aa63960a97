/**
 * 64-bit block hash → the pods that hold that block, in typed arrays only.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones, so a table under constant store/evict churn never degrades).
 * A slot is 12 bytes, interleaved in one array (a probe touches one cache
 * line, not three): the hash's two 32-bit halves and one int32 that is
 * either the single holder inline (`pod + 1`, the common case: a block on one
 * pod) or, negated, the id of a pod bitset in a slab (`-(set + 1)`), used once
 * a second pod holds the block. A bitset has one bit per pod slot of the pool.
 */
const MAX_LOAD = 0.8;

export class HolderTable {
  /** Slot i: [3i] low half, [3i+1] high half (as int32 bit patterns), [3i+2] the holder value (0: empty). */
  private t: Int32Array;
  private mask: number;
  /** Keys held. */
  size = 0;
  /** Words per pod bitset. */
  private words: number;
  private bits: Uint32Array;
  private freeSets: number[] = [];
  private setsUsed = 0;

  constructor(capacity = 1024, podCapacity = 64) {
    let cap = 16;
    while (cap < capacity / MAX_LOAD) cap *= 2;
    this.t = new Int32Array(cap * 3);
    this.mask = cap - 1;
    this.words = Math.max(1, Math.ceil(podCapacity / 32));
    this.bits = new Uint32Array(this.words * 64);
  }

  /** Bytes held by the arrays. */
  get bytes(): number {
    return this.t.byteLength + this.bits.byteLength;
  }

  get wordsPerSet(): number {
    return this.words;
  }

  /** Makes room for pod slots below `pods` (bitsets widen; rare, O(table)). */
  ensurePods(pods: number): void {
    const need = Math.ceil(pods / 32);
    if (need <= this.words) return;
    const old = this.bits;
    const ow = this.words;
    const next = new Uint32Array(Math.max(need * 64, (old.length / ow) * need));
    for (let s = 0; s < old.length / ow; s++) for (let w = 0; w < ow; w++) next[s * need + w] = old[s * ow + w]!;
    this.bits = next;
    this.words = need;
  }

  private slotOf(hi: number, lo: number): number {
    return (Math.imul(lo ^ Math.imul(hi, 0x85ebca6b), 0x9e3779b1) >>> 0) & this.mask;
  }

  /** The slot holding the key, or -1. */
  find(hi: number, lo: number): number {
    const t = this.t;
    const l = lo | 0;
    const h = hi | 0;
    let i = this.slotOf(hi, lo);
    for (;;) {
      const v = t[3 * i + 2]!;
      if (v === 0) return -1;
      if (t[3 * i] === l && t[3 * i + 1] === h) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Adds `pod` as a holder; false when it already was one. */
  add(hi: number, lo: number, pod: number): boolean {
    if ((this.size + 1) > (this.mask + 1) * MAX_LOAD) this.grow();
    const t = this.t;
    let i = this.slotOf(hi, lo);
    for (;;) {
      const v = t[3 * i + 2]!;
      if (v === 0) {
        t[3 * i] = lo | 0;
        t[3 * i + 1] = hi | 0;
        t[3 * i + 2] = pod + 1;
        this.size++;
        return true;
      }
      if (t[3 * i] === (lo | 0) && t[3 * i + 1] === (hi | 0)) break;
      i = (i + 1) & this.mask;
    }
    const v = t[3 * i + 2]!;
    if (v > 0) {
      if (v === pod + 1) return false;
      const set = this.allocSet();
      this.setBit(set, v - 1);
      this.setBit(set, pod);
      t[3 * i + 2] = -(set + 1);
      return true;
    }
    const set = -v - 1;
    const w = set * this.words + (pod >>> 5);
    const bit = 1 << (pod & 31);
    if (this.bits[w]! & bit) return false;
    this.bits[w]! |= bit;
    return true;
  }

  /** Drops `pod` as a holder; false when it was not one. */
  remove(hi: number, lo: number, pod: number): boolean {
    const i = this.find(hi, lo);
    if (i < 0) return false;
    const v = this.t[3 * i + 2]!;
    if (v > 0) {
      if (v !== pod + 1) return false;
      this.deleteSlot(i);
      return true;
    }
    const set = -v - 1;
    const base = set * this.words;
    const w = base + (pod >>> 5);
    const bit = 1 << (pod & 31);
    if (!(this.bits[w]! & bit)) return false;
    this.bits[w]! &= ~bit;
    this.collapse(i, set);
    return true;
  }

  /** Whether `pod` holds the key. */
  has(hi: number, lo: number, pod: number): boolean {
    const i = this.find(hi, lo);
    if (i < 0) return false;
    const v = this.t[3 * i + 2]!;
    if (v > 0) return v === pod + 1;
    return (this.bits[(-v - 1) * this.words + (pod >>> 5)]! & (1 << (pod & 31))) !== 0;
  }

  /** ORs the holders of slot `i` (from find) into `out` (one word per 32 pods). */
  orHolders(i: number, out: Uint32Array): void {
    const v = this.t[3 * i + 2]!;
    if (v > 0) {
      out[(v - 1) >>> 5]! |= 1 << ((v - 1) & 31);
      return;
    }
    const base = (-v - 1) * this.words;
    for (let w = 0; w < this.words; w++) out[w]! |= this.bits[base + w]!;
  }

  /** Removes `pod` from every key; calls `each(hi, lo)` for each key it held. O(table). */
  removePod(pod: number, each?: (hi: number, lo: number) => void): number {
    const dropHi: number[] = [];
    const dropLo: number[] = [];
    let removed = 0;
    for (let i = 0; i <= this.mask; i++) {
      const v = this.t[3 * i + 2]!;
      if (v === 0) continue;
      if (v > 0) {
        if (v === pod + 1) dropHi.push((this.t[3 * i + 1]! >>> 0)), dropLo.push((this.t[3 * i]! >>> 0));
        continue;
      }
      const set = -v - 1;
      const w = set * this.words + (pod >>> 5);
      const bit = 1 << (pod & 31);
      if (!(this.bits[w]! & bit)) continue;
      each?.((this.t[3 * i + 1]! >>> 0), (this.t[3 * i]! >>> 0));
      removed++;
      this.bits[w]! &= ~bit;
      // Collapsing may turn the slot inline but never moves keys, so the scan stays valid.
      if (this.popcount(set) === 1) this.collapse(i, set);
    }
    for (let k = 0; k < dropHi.length; k++) {
      each?.(dropHi[k]!, dropLo[k]!);
      this.remove(dropHi[k]!, dropLo[k]!, pod);
      removed++;
    }
    return removed;
  }

  /** Calls `each(hi, lo, pod)` for every (key, holder) pair, in one pass over the table (snapshots). */
  forEachHolder(each: (hi: number, lo: number, pod: number) => void): void {
    for (let i = 0; i <= this.mask; i++) {
      const v = this.t[3 * i + 2]!;
      if (v === 0) continue;
      if (v > 0) {
        each((this.t[3 * i + 1]! >>> 0), (this.t[3 * i]! >>> 0), v - 1);
        continue;
      }
      const base = (-v - 1) * this.words;
      for (let w = 0; w < this.words; w++) {
        let x = this.bits[base + w]!;
        while (x !== 0) {
          const bit = x & -x;
          each((this.t[3 * i + 1]! >>> 0), (this.t[3 * i]! >>> 0), w * 32 + (31 - Math.clz32(bit)));
          x ^= bit;
        }
      }
    }
  }

  /** Every key `pod` holds, as [hi, lo] pairs (tests and debugging; O(table)). */
  keysOf(pod: number): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i <= this.mask; i++) {
      if (this.t[3 * i + 2]! !== 0 && this.hasAt(i, pod)) out.push([(this.t[3 * i + 1]! >>> 0), (this.t[3 * i]! >>> 0)]);
    }
    return out;
  }

  private hasAt(i: number, pod: number): boolean {
    const v = this.t[3 * i + 2]!;
    if (v > 0) return v === pod + 1;
    return (this.bits[(-v - 1) * this.words + (pod >>> 5)]! & (1 << (pod & 31))) !== 0;
  }

  private popcount(set: number): number {
    let n = 0;
    const base = set * this.words;
    for (let w = 0; w < this.words; w++) {
      let x = this.bits[base + w]!;
      x -= (x >>> 1) & 0x55555555;
      x = (x & 0x33333333) + ((x >>> 2) & 0x33333333);
      n += (Math.imul((x + (x >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24);
    }
    return n;
  }

  /** After a bit was cleared: a set of one becomes inline again, an empty one frees the key. */
  private collapse(i: number, set: number): void {
    const base = set * this.words;
    let only = -1;
    let count = 0;
    for (let w = 0; w < this.words && count < 2; w++) {
      let x = this.bits[base + w]!;
      while (x !== 0 && count < 2) {
        only = w * 32 + (31 - Math.clz32(x & -x));
        x &= x - 1;
        count++;
      }
    }
    if (count >= 2) return;
    this.freeSet(set);
    if (count === 1) this.t[3 * i + 2] = only + 1;
    else this.deleteSlot(i);
  }

  private setBit(set: number, pod: number): void {
    this.bits[set * this.words + (pod >>> 5)]! |= 1 << (pod & 31);
  }

  private allocSet(): number {
    const reused = this.freeSets.pop();
    if (reused !== undefined) return reused;
    const set = this.setsUsed++;
    if ((set + 1) * this.words > this.bits.length) {
      const next = new Uint32Array(this.bits.length * 2);
      next.set(this.bits);
      this.bits = next;
    }
    return set;
  }

  private freeSet(set: number): void {
    this.bits.fill(0, set * this.words, (set + 1) * this.words);
    this.freeSets.push(set);
  }

  /** Backward-shift deletion: pull later keys of the probe run into the hole. */
  private deleteSlot(i: number): void {
    const mask = this.mask;
    const t = this.t;
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (t[3 * j + 2] === 0) break;
      const home = this.slotOf(t[3 * j + 1]! >>> 0, t[3 * j]! >>> 0);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (inRange) continue;
      t[3 * hole] = t[3 * j]!;
      t[3 * hole + 1] = t[3 * j + 1]!;
      t[3 * hole + 2] = t[3 * j + 2]!;
      hole = j;
    }
    t[3 * hole + 2] = 0;
    this.size--;
  }

  private grow(): void {
    const old = this.t;
    const cap = (this.mask + 1) * 2;
    const t = (this.t = new Int32Array(cap * 3));
    this.mask = cap - 1;
    for (let k = 0; k < old.length; k += 3) {
      if (old[k + 2] === 0) continue;
      let i = this.slotOf(old[k + 1]! >>> 0, old[k]! >>> 0);
      while (t[3 * i + 2] !== 0) i = (i + 1) & this.mask;
      t[3 * i] = old[k]!;
      t[3 * i + 1] = old[k + 1]!;
      t[3 * i + 2] = old[k + 2]!;
    }
  }
}
