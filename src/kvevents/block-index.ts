/**
 * One pool's precise prefix index: block hash → the pods whose engines hold
 * the block, per medium (GPU, CPU, …), fed by the engines' own KV events.
 *
 * Built for a long prompt over many pods (llm-d-router#2390: 240k tokens, 96
 * pods): the tables are typed arrays keyed by the 64-bit hashes (12 bytes a
 * key, see holder-table.ts), and a lookup walks the prompt's blocks once,
 * intersecting one bitset of still-matching pods per block, so it costs
 * O(blocks × pods/32) whatever the caches hold.
 */
import { HolderTable } from './holder-table.ts';
import { MEDIUM_GPU, type KvEvent } from './events.ts';

/** How far into a prompt one pod's cache matches. */
export interface PrefixMatch {
  pod: string;
  /** Leading blocks of the prompt the pod holds on any medium. */
  blocks: number;
  /** Leading blocks it holds in device (GPU) memory. */
  deviceBlocks: number;
}

export interface IndexStats {
  pods: number;
  /** Distinct (hash, medium) keys. */
  keys: number;
  /** (hash, pod, medium) entries. */
  entries: number;
  /** Bytes in the index's arrays. */
  bytes: number;
}

const SPLIT = 0x100000000n;
const LOW = 0xffffffffn;

export class KvBlockIndex {
  private readonly slots = new Map<string, number>();
  private readonly names: (string | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  /** Entries per pod slot. */
  private counts = new Int32Array(64);
  /** Table per medium; index 0 is the GPU. */
  private readonly media: { name: string; table: HolderTable }[];
  /** (hash, pod, medium) stored more than once (vLLM may cache a second physical copy): extra copies. */
  private readonly copies = new Map<string, number>();
  private scratch = new Uint32Array(0);

  constructor(expectedBlocks = 1024) {
    this.media = [{ name: MEDIUM_GPU, table: new HolderTable(expectedBlocks) }];
  }

  /** The pod's slot, registering it on first use. */
  podSlot(pod: string): number {
    let slot = this.slots.get(pod);
    if (slot !== undefined) return slot;
    slot = this.freeSlots.pop() ?? this.names.length;
    this.slots.set(pod, slot);
    this.names[slot] = pod;
    if (slot >= this.counts.length) {
      const next = new Int32Array(this.counts.length * 2);
      next.set(this.counts);
      this.counts = next;
    }
    for (const m of this.media) m.table.ensurePods(slot + 1);
    return slot;
  }

  get pods(): string[] {
    return [...this.slots.keys()];
  }

  /** Applies one pod's events, in order. */
  apply(pod: string, events: readonly KvEvent[]): void {
    for (const e of events) {
      if (e.type === 'AllBlocksCleared') this.clearPod(pod, false);
      else if (e.type === 'BlockStored') this.store(pod, e.blockHashes, e.medium);
      else this.remove(pod, e.blockHashes, e.medium);
    }
  }

  store(pod: string, hashes: readonly bigint[], medium: string | null = MEDIUM_GPU): void {
    const slot = this.podSlot(pod);
    const m = this.mediumIndex(medium);
    const t = this.media[m]!.table;
    for (const h of hashes) {
      const hi = Number(h >> 32n);
      const lo = Number(h & LOW);
      if (t.add(hi, lo, slot)) this.counts[slot]!++;
      else {
        const k = `${h}:${slot}:${m}`;
        this.copies.set(k, (this.copies.get(k) ?? 0) + 1);
      }
    }
  }

  remove(pod: string, hashes: readonly bigint[], medium: string | null = MEDIUM_GPU): void {
    const slot = this.slots.get(pod);
    if (slot === undefined) return;
    const m = this.mediumIndex(medium);
    const t = this.media[m]!.table;
    for (const h of hashes) {
      if (this.copies.size > 0) {
        const k = `${h}:${slot}:${m}`;
        const extra = this.copies.get(k);
        if (extra !== undefined) {
          if (extra > 1) this.copies.set(k, extra - 1);
          else this.copies.delete(k);
          continue;
        }
      }
      if (t.remove(Number(h >> 32n), Number(h & LOW), slot)) this.counts[slot]!--;
    }
  }

  /** Forgets everything the pod holds (AllBlocksCleared, a resync); `forget` also frees its slot. */
  clearPod(pod: string, forget = false): void {
    const slot = this.slots.get(pod);
    if (slot === undefined) return;
    // A pod that holds nothing (just joined, already cleared) costs no scan of the tables.
    if (this.counts[slot] !== 0) for (const m of this.media) m.table.removePod(slot);
    this.counts[slot] = 0;
    for (const k of [...this.copies.keys()]) if (k.split(':')[1] === String(slot)) this.copies.delete(k);
    if (forget) {
      this.slots.delete(pod);
      this.names[slot] = undefined;
      this.freeSlots.push(slot);
    }
  }

  /** Whether the pod has a slot here (it sent events, or joined the pool). */
  has(pod: string): boolean {
    return this.slots.has(pod);
  }

  /** Blocks the pod holds (all media). */
  blockCount(pod: string): number {
    const slot = this.slots.get(pod);
    return slot === undefined ? 0 : this.counts[slot]!;
  }

  /** The hashes the pod holds on one medium, sorted (tests, debugging; O(index)). */
  blocksOf(pod: string, medium: string = MEDIUM_GPU): bigint[] {
    const slot = this.slots.get(pod);
    const m = this.media.find((x) => x.name === medium);
    if (slot === undefined || !m) return [];
    return m.table
      .keysOf(slot)
      .map(([hi, lo]) => BigInt(hi) * SPLIT + BigInt(lo))
      .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  /**
   * How many leading blocks of a prompt each pod holds. `hashes` are the
   * prompt's chained block hashes (see block-hash.ts); `pods` limits the
   * answer to those candidates (default: every pod with events).
   */
  lookup(hashes: BigUint64Array, pods: readonly string[] = this.pods): PrefixMatch[] {
    const words = this.media[0]!.table.wordsPerSet;
    if (this.scratch.length < words * 4) this.scratch = new Uint32Array(words * 4);
    const s = this.scratch;
    const anyLive = s.subarray(0, words);
    const devLive = s.subarray(words, 2 * words);
    const any = s.subarray(2 * words, 3 * words);
    const dev = s.subarray(3 * words, 4 * words);
    anyLive.fill(0);
    devLive.fill(0);
    const anyEnd = new Int32Array(words * 32).fill(-1);
    const devEnd = new Int32Array(words * 32).fill(-1);
    for (const p of pods) {
      const slot = this.slots.get(p);
      if (slot !== undefined) anyLive[slot >>> 5]! |= 1 << (slot & 31);
    }
    devLive.set(anyLive);
    // Both halves of each 64-bit hash, without BigInt arithmetic per block.
    const halves = new Uint32Array(hashes.buffer, hashes.byteOffset, hashes.length * 2);
    const n = hashes.length;
    let i = 0;
    for (; i < n; i++) {
      const lo = halves[2 * i]!;
      const hi = halves[2 * i + 1]!;
      any.fill(0);
      dev.fill(0);
      for (let m = 0; m < this.media.length; m++) {
        const t = this.media[m]!.table;
        const at = t.find(hi, lo);
        if (at >= 0) t.orHolders(at, m === 0 ? dev : any);
      }
      let alive = 0;
      for (let w = 0; w < words; w++) {
        const a = any[w]! | dev[w]!;
        alive |= drop(anyLive, a, w, anyEnd, i) | drop(devLive, dev[w]!, w, devEnd, i);
      }
      if (alive === 0) break;
    }
    const out: PrefixMatch[] = [];
    for (const p of pods) {
      const slot = this.slots.get(p);
      if (slot === undefined) out.push({ pod: p, blocks: 0, deviceBlocks: 0 });
      else out.push({ pod: p, blocks: anyEnd[slot]! < 0 ? i : anyEnd[slot]!, deviceBlocks: devEnd[slot]! < 0 ? i : devEnd[slot]! });
    }
    return out;
  }

  /**
   * Everything the index holds, per pod and medium, as the stores that would
   * rebuild it (a block held twice by one pod appears twice): what a replica
   * is sent first. One pass over each medium's table.
   */
  dump(): { pod: string; medium: string; hashes: bigint[] }[] {
    const out = new Map<string, { pod: string; medium: string; hashes: bigint[] }>();
    const entry = (slot: number, m: number) => {
      const key = `${slot}:${m}`;
      let e = out.get(key);
      if (!e) out.set(key, (e = { pod: this.names[slot]!, medium: this.media[m]!.name, hashes: [] }));
      return e;
    };
    this.media.forEach((m, mi) => m.table.forEachHolder((hi, lo, slot) => {
      if (this.names[slot] !== undefined) entry(slot, mi).hashes.push(BigInt(hi) * SPLIT + BigInt(lo));
    }));
    for (const [k, extra] of this.copies) {
      const [h, slot, m] = k.split(':');
      const e = entry(Number(slot), Number(m));
      for (let c = 0; c < extra; c++) e.hashes.push(BigInt(h!));
    }
    return [...out.values()];
  }

  stats(): IndexStats {
    let keys = 0;
    let bytes = this.counts.byteLength;
    for (const m of this.media) (keys += m.table.size), (bytes += m.table.bytes);
    let entries = 0;
    for (const slot of this.slots.values()) entries += this.counts[slot]!;
    return { pods: this.slots.size, keys, entries, bytes };
  }

  private mediumIndex(medium: string | null): number {
    // An engine that names no medium means device memory (llm-d's pool defaults it the same way).
    const name = medium ? medium.toUpperCase() : MEDIUM_GPU;
    const i = this.media.findIndex((m) => m.name === name);
    if (i >= 0) return i;
    // Same bitset width as the GPU table: a lookup ORs every medium's holders into one bitset.
    const table = new HolderTable(1024, this.media[0]!.table.wordsPerSet * 32);
    this.media.push({ name, table });
    return this.media.length - 1;
  }
}

/** Pods in word `w` of `live` that lack `holders` stop matching at block `at`; returns the word's survivors. */
function drop(live: Uint32Array, holders: number, w: number, end: Int32Array, at: number): number {
  const was = live[w]!;
  let gone = was & ~holders;
  while (gone !== 0) {
    const bit = gone & -gone;
    end[w * 32 + (31 - Math.clz32(bit))] = at;
    gone ^= bit;
  }
  const now = was & holders;
  live[w] = now;
  return now;
}
