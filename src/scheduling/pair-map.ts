/**
 * A hash map from a pair of 32-bit integers to a non-negative int32, in typed
 * arrays: open addressing, linear probing, load ≤ 1/2, backward-shift deletion
 * (no tombstones, so probe chains never degrade). Nothing is allocated except
 * when the table doubles, so a hot path that only gets, sets and deletes
 * leaves no garbage for the GC.
 */
export class PairMap {
  #a: Int32Array;
  #b: Int32Array;
  /** The value, or −1 for an empty slot. */
  #v: Int32Array;
  #mask: number;
  #size = 0;

  constructor(initialCapacity = 16) {
    let cap = 16;
    while (cap < initialCapacity * 2) cap *= 2;
    this.#a = new Int32Array(cap);
    this.#b = new Int32Array(cap);
    this.#v = new Int32Array(cap).fill(-1);
    this.#mask = cap - 1;
  }

  get size(): number {
    return this.#size;
  }

  /** Slots in the table (for tests: it grows, never shrinks). */
  get capacity(): number {
    return this.#mask + 1;
  }

  /** The value for (a, b), or −1. */
  get(a: number, b: number): number {
    a |= 0;
    b |= 0;
    const mask = this.#mask;
    const v = this.#v;
    for (let i = home(a, b, mask); ; i = (i + 1) & mask) {
      const x = v[i]!;
      if (x < 0) return -1;
      if (this.#a[i] === a && this.#b[i] === b) return x;
    }
  }

  /** Insert or overwrite; `value` must be ≥ 0. */
  set(a: number, b: number, value: number): void {
    a |= 0;
    b |= 0;
    if ((this.#size + 1) * 2 > this.#mask + 1) this.#grow();
    const mask = this.#mask;
    const v = this.#v;
    let i = home(a, b, mask);
    for (; v[i]! >= 0; i = (i + 1) & mask) {
      if (this.#a[i] === a && this.#b[i] === b) {
        v[i] = value;
        return;
      }
    }
    this.#a[i] = a;
    this.#b[i] = b;
    v[i] = value;
    this.#size++;
  }

  /** Remove (a, b); false when absent. */
  delete(a: number, b: number): boolean {
    a |= 0;
    b |= 0;
    const mask = this.#mask;
    const v = this.#v;
    const ka = this.#a;
    const kb = this.#b;
    let i = home(a, b, mask);
    for (; ; i = (i + 1) & mask) {
      if (v[i]! < 0) return false;
      if (ka[i] === a && kb[i] === b) break;
    }
    // Backward shift: pull later entries of the probe run into the hole when
    // their home position does not lie cyclically after the hole.
    for (let j = (i + 1) & mask; v[j]! >= 0; j = (j + 1) & mask) {
      const k = home(ka[j]!, kb[j]!, mask);
      if (((j - k) & mask) >= ((j - i) & mask)) {
        ka[i] = ka[j]!;
        kb[i] = kb[j]!;
        v[i] = v[j]!;
        i = j;
      }
    }
    v[i] = -1;
    this.#size--;
    return true;
  }

  #grow(): void {
    const oa = this.#a;
    const ob = this.#b;
    const ov = this.#v;
    const cap = ov.length * 2;
    this.#a = new Int32Array(cap);
    this.#b = new Int32Array(cap);
    this.#v = new Int32Array(cap).fill(-1);
    this.#mask = cap - 1;
    this.#size = 0;
    for (let i = 0; i < ov.length; i++) if (ov[i]! >= 0) this.set(oa[i]!, ob[i]!, ov[i]!);
  }
}

/** Mix both halves (block hashes are already uniform, slot ids are not). */
function home(a: number, b: number, mask: number): number {
  let h = Math.imul(a, 0x9e3779b1) ^ Math.imul(b ^ (b >>> 15), 0x85ebca77);
  h ^= h >>> 16;
  return h & mask;
}
