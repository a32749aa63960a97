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
import { canonicalMedium, MEDIUM_GPU, MEDIUM_OTHER, type KvEvent } from './events.ts';
import type { IndexUpdate } from './index-updates.ts';

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
  /** Blocks stored under a medium the index does not know (kept as OTHER). */
  unknownMediumBlocks: number;
}

/** A KV-cache group's bit in a holder mask; none (engines before group_idx) is group 0, groups past 30 share bit 31. */
function groupBit(group: number | null | undefined): number {
  return group == null || group <= 0 ? 1 : 1 << Math.min(group, 31);
}

const SPLIT = 0x100000000n;
const LOW = 0xffffffffn;

export class KvBlockIndex {
  private readonly slots = new Map<string, number>();
  private readonly names: (string | undefined)[] = [];
  private readonly freeSlots: number[] = [];
  /** Entries per pod slot. */
  private counts = new Int32Array(64);
  /** Table per medium; index 0 is the GPU. At most one per known medium, plus OTHER. */
  private readonly media: { name: string; table: HolderTable }[];
  /**
   * Per pod slot, per medium: the KV-cache groups holding a hash, as a bit
   * mask, for the hashes not held by group 0 alone (the table says "some group
   * holds it"). A hybrid-attention model stores the same hash once per group
   * (vLLM's `group_idx`) and removes it per group: a sliding-window group
   * drops blocks the full-attention group keeps. Keyed by slot so a pod's
   * masks go with it in O(1).
   */
  private readonly groups: ((Map<bigint, number> | undefined)[] | undefined)[] = [];
  /** Blocks stored under an unknown medium, and a few of the names (for the warning). */
  unknownMediumBlocks = 0;
  readonly unknownMediumNames = new Set<string>();
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

  /**
   * Applies one pod's events, in order. With `changes`, appends what changed
   * in the index (a block a pod came to hold or stopped holding, per medium):
   * what a replica applies to stay equal, whatever the events repeated.
   */
  apply(pod: string, events: readonly KvEvent[], changes?: IndexUpdate[]): void {
    for (const e of events) {
      if (e.type === 'AllBlocksCleared') {
        this.clearPod(pod, false);
        changes?.push({ kind: 'cleared', pod });
        continue;
      }
      const out = changes ? [] : undefined;
      if (e.type === 'BlockStored') this.store(pod, e.blockHashes, e.medium, e.groupIdx, out);
      else this.remove(pod, e.blockHashes, e.medium, e.groupIdx, out);
      if (!changes || out!.length === 0) continue;
      const kind = e.type === 'BlockStored' ? 'stored' : 'removed';
      const medium = canonicalMedium(e.medium);
      const last = changes[changes.length - 1];
      if (last && last.kind === kind && last.pod === pod && last.medium === medium) (last.hashes as bigint[]).push(...out!);
      else changes.push({ kind, pod, medium, hashes: out! });
    }
  }

  /**
   * The pod holds these blocks (in `group`'s KV cache). Idempotent: vLLM with
   * `kv_cache_report_mode: "full"` sends the same BlockStored again on every
   * prefix hit (emit_cached_block_events), indistinguishable on the wire from
   * a second physical copy; counting them would keep a block after its one
   * eviction. A real second copy is forgotten at its first eviction instead —
   * a missed hit, the safe direction. `changed` gets the hashes newly held.
   */
  store(pod: string, hashes: readonly bigint[], medium: string | null = MEDIUM_GPU, group: number | null = null, changed?: bigint[]): void {
    const slot = this.podSlot(pod);
    const m = this.mediumIndex(medium, hashes.length);
    const t = this.media[m]!.table;
    const bit = groupBit(group);
    let masks = this.groups[slot]?.[m];
    for (const h of hashes) {
      if (t.add(Number(h >> 32n), Number(h & LOW), slot)) {
        this.counts[slot]!++;
        changed?.push(h);
        if (bit !== 1) (masks ??= this.masksOf(slot, m)).set(h, bit);
      } else if (bit !== 1 || masks !== undefined) {
        // Already held: by group 0 alone unless a mask says otherwise.
        const held = masks?.get(h) ?? 1;
        if ((held | bit) !== held) (masks ??= this.masksOf(slot, m)).set(h, held | bit);
      }
    }
  }

  /** The pod's `group` dropped these blocks; a block stays while another group holds it. `changed` gets the hashes no longer held. */
  remove(pod: string, hashes: readonly bigint[], medium: string | null = MEDIUM_GPU, group: number | null = null, changed?: bigint[]): void {
    const slot = this.slots.get(pod);
    if (slot === undefined) return;
    const m = this.mediumIndex(medium, 0);
    const t = this.media[m]!.table;
    const bit = groupBit(group);
    const masks = this.groups[slot]?.[m];
    for (const h of hashes) {
      const held = masks?.get(h);
      if (held !== undefined) {
        const rest = held & ~bit;
        if (rest === held) continue;
        if (rest !== 0) {
          if (rest === 1) masks!.delete(h);
          else masks!.set(h, rest);
          continue;
        }
        masks!.delete(h);
      } else if (bit !== 1) continue; // held by group 0 alone (or not at all): another group's eviction
      if (t.remove(Number(h >> 32n), Number(h & LOW), slot)) {
        this.counts[slot]!--;
        changed?.push(h);
      }
    }
  }

  /** Forgets everything the pod holds (AllBlocksCleared, a resync); `forget` also frees its slot. */
  clearPod(pod: string, forget = false): void {
    const slot = this.slots.get(pod);
    if (slot === undefined) return;
    // A pod that holds nothing (just joined, already cleared) costs no scan of the tables.
    if (this.counts[slot] !== 0) for (const m of this.media) m.table.removePod(slot);
    this.counts[slot] = 0;
    this.groups[slot] = undefined;
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
    const name = canonicalMedium(medium);
    const m = this.media.find((x) => x.name === name);
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
   * rebuild it: what a replica is sent first (it then follows the changes
   * `apply` reports, so it needs which blocks are held, not by which group).
   * One pass over each medium's table.
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
    return [...out.values()];
  }

  stats(): IndexStats {
    let keys = 0;
    let bytes = this.counts.byteLength;
    for (const m of this.media) (keys += m.table.size), (bytes += m.table.bytes);
    let entries = 0;
    for (const slot of this.slots.values()) entries += this.counts[slot]!;
    return { pods: this.slots.size, keys, entries, bytes, unknownMediumBlocks: this.unknownMediumBlocks };
  }

  /** The medium's table (created on first use; `blocks` are counted when the name is unknown). */
  private mediumIndex(medium: string | null, blocks: number): number {
    const name = canonicalMedium(medium);
    if (name === MEDIUM_GPU) return 0;
    if (name === MEDIUM_OTHER && medium) {
      this.unknownMediumBlocks += blocks;
      if (blocks > 0 && this.unknownMediumNames.size < 8) this.unknownMediumNames.add(medium.slice(0, 64));
    }
    const i = this.media.findIndex((m) => m.name === name);
    if (i >= 0) return i;
    // Same bitset width as the GPU table: a lookup ORs every medium's holders into one bitset.
    const table = new HolderTable(1024, this.media[0]!.table.wordsPerSet * 32);
    this.media.push({ name, table });
    return this.media.length - 1;
  }

  private masksOf(slot: number, m: number): Map<bigint, number> {
    const perMedium = (this.groups[slot] ??= []);
    return (perMedium[m] ??= new Map());
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
