/**
 * 64-bit block hash → the pods that hold that block, in typed arrays only.
 *
 * Open addressing with linear probing and backward-shift deletion (no
 * tombstones, so a table under constant store/evict churn never degrades).
 * A slot is 12 bytes: the hash's two 32-bit halves and one int32 that is
 * either the single holder inline (`pod + 1`, the common case: a block on one
 * pod) or, negated, the id of a pod bitset in a slab (`-(set + 1)`), used once
 * a second pod holds the block. A bitset has one bit per pod slot of the pool.
 */
const MAX_LOAD = 0.8;

export class HolderTable {
  private lo: Uint32Array;
  private hi: Uint32Array;
  private val: Int32Array;
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
    this.lo = new Uint32Array(cap);
    this.hi = new Uint32Array(cap);
    this.val = new Int32Array(cap);
    this.mask = cap - 1;
    this.words = Math.max(1, Math.ceil(podCapacity / 32));
    this.bits = new Uint32Array(this.words * 64);
  }

  /** Bytes held by the arrays. */
  get bytes(): number {
    return this.lo.byteLength + this.hi.byteLength + this.val.byteLength + this.bits.byteLength;
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
    let i = this.slotOf(hi, lo);
    for (;;) {
      const v = this.val[i]!;
      if (v === 0) return -1;
      if (this.lo[i] === lo && this.hi[i] === hi) return i;
      i = (i + 1) & this.mask;
    }
  }

  /** Adds `pod` as a holder; false when it already was one. */
  add(hi: number, lo: number, pod: number): boolean {
    if ((this.size + 1) > (this.mask + 1) * MAX_LOAD) this.grow();
    let i = this.slotOf(hi, lo);
    for (;;) {
      const v = this.val[i]!;
      if (v === 0) {
        this.lo[i] = lo;
        this.hi[i] = hi;
        this.val[i] = pod + 1;
        this.size++;
        return true;
      }
      if (this.lo[i] === lo && this.hi[i] === hi) break;
      i = (i + 1) & this.mask;
    }
    const v = this.val[i]!;
    if (v > 0) {
      if (v === pod + 1) return false;
      const set = this.allocSet();
      this.setBit(set, v - 1);
      this.setBit(set, pod);
      this.val[i] = -(set + 1);
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
    const v = this.val[i]!;
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
    const v = this.val[i]!;
    if (v > 0) return v === pod + 1;
    return (this.bits[(-v - 1) * this.words + (pod >>> 5)]! & (1 << (pod & 31))) !== 0;
  }

  /** ORs the holders of slot `i` (from find) into `out` (one word per 32 pods). */
  orHolders(i: number, out: Uint32Array): void {
    const v = this.val[i]!;
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
      const v = this.val[i]!;
      if (v === 0) continue;
      if (v > 0) {
        if (v === pod + 1) dropHi.push(this.hi[i]!), dropLo.push(this.lo[i]!);
        continue;
      }
      const set = -v - 1;
      const w = set * this.words + (pod >>> 5);
      const bit = 1 << (pod & 31);
      if (!(this.bits[w]! & bit)) continue;
      each?.(this.hi[i]!, this.lo[i]!);
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
      const v = this.val[i]!;
      if (v === 0) continue;
      if (v > 0) {
        each(this.hi[i]!, this.lo[i]!, v - 1);
        continue;
      }
      const base = (-v - 1) * this.words;
      for (let w = 0; w < this.words; w++) {
        let x = this.bits[base + w]!;
        while (x !== 0) {
          const bit = x & -x;
          each(this.hi[i]!, this.lo[i]!, w * 32 + (31 - Math.clz32(bit)));
          x ^= bit;
        }
      }
    }
  }

  /** Every key `pod` holds, as [hi, lo] pairs (tests and debugging; O(table)). */
  keysOf(pod: number): [number, number][] {
    const out: [number, number][] = [];
    for (let i = 0; i <= this.mask; i++) {
      if (this.val[i] !== 0 && this.hasAt(i, pod)) out.push([this.hi[i]!, this.lo[i]!]);
    }
    return out;
  }

  private hasAt(i: number, pod: number): boolean {
    const v = this.val[i]!;
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
    if (count === 1) this.val[i] = only + 1;
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
    let hole = i;
    let j = i;
    for (;;) {
      j = (j + 1) & mask;
      if (this.val[j] === 0) break;
      const home = this.slotOf(this.hi[j]!, this.lo[j]!);
      // Move j into the hole unless its home lies cyclically in (hole, j].
      const inRange = hole <= j ? home > hole && home <= j : home > hole || home <= j;
      if (inRange) continue;
      this.lo[hole] = this.lo[j]!;
      this.hi[hole] = this.hi[j]!;
      this.val[hole] = this.val[j]!;
      hole = j;
    }
    this.val[hole] = 0;
    this.size--;
  }

  private grow(): void {
    const { lo, hi, val } = this;
    const cap = (this.mask + 1) * 2;
    this.lo = new Uint32Array(cap);
    this.hi = new Uint32Array(cap);
    this.val = new Int32Array(cap);
    this.mask = cap - 1;
    for (let k = 0; k < val.length; k++) {
      if (val[k] === 0) continue;
      let i = this.slotOf(hi[k]!, lo[k]!);
      while (this.val[i] !== 0) i = (i + 1) & this.mask;
      this.lo[i] = lo[k]!;
      this.hi[i] = hi[k]!;
      this.val[i] = val[k]!;
    }
  }
}
