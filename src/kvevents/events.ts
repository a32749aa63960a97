/**
 * vLLM's KV-cache events (vllm/distributed/kv_events.py), as the agent and the
 * simulator hold them. Field names follow the engine's; hashes are the 64-bit
 * integers vLLM publishes by default (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES).
 * See docs/kv-events.md for the wire format and sources.
 */

/** The medium vLLM names for blocks in device memory (`MEDIUM_GPU`). */
export const MEDIUM_GPU = 'GPU';

/** Where the index puts blocks of a medium it does not know (one table, off-device). */
export const MEDIUM_OTHER = 'OTHER';

/**
 * The media the index keeps apart, as engines name them (upper-cased): vLLM's
 * `GPU`, `CPU` (offloading connectors) and `STORAGE` (its filesystem tier);
 * SGLang's HiCache tiers `CPU_PINNED`, `CPU_TIER1`, `CPU_TIER2`, `DISK`,
 * `EXTERNAL` (LMCache's `cpu` is CPU). A fixed set: the name comes from the
 * wire, and each medium is a table every lookup walks.
 */
export const KNOWN_MEDIA: ReadonlySet<string> = new Set([MEDIUM_GPU, 'CPU', 'STORAGE', 'CPU_PINNED', 'CPU_TIER1', 'CPU_TIER2', 'DISK', 'EXTERNAL']);

/** The index's name for an event's medium: none is device memory (llm-d defaults it the same way); unknown ones are OTHER. */
export function canonicalMedium(medium: string | null | undefined): string {
  if (!medium) return MEDIUM_GPU;
  if (medium === MEDIUM_GPU) return medium;
  const name = medium.toUpperCase();
  return KNOWN_MEDIA.has(name) ? name : MEDIUM_OTHER;
}

export interface BlockStored {
  type: 'BlockStored';
  /** Newly cached blocks, in chain order. */
  blockHashes: bigint[];
  /** The block before the first one here; null when the chain starts here. */
  parentBlockHash: bigint | null;
  /** The tokens of every block here, concatenated. */
  tokenIds: number[];
  blockSize: number;
  /** Deprecated in vLLM in favour of loraName; still published. */
  loraId: number | null;
  medium: string | null;
  loraName: string | null;
  /** One entry per block: the extra keys that went into its hash (or null). */
  extraKeys?: (unknown[] | null)[] | null;
  groupIdx?: number | null;
  kvCacheSpecKind?: string | null;
  kvCacheSpecSlidingWindow?: number | null;
}

export interface BlockRemoved {
  type: 'BlockRemoved';
  blockHashes: bigint[];
  medium: string | null;
  groupIdx?: number | null;
}

export interface AllBlocksCleared {
  type: 'AllBlocksCleared';
}

export type KvEvent = BlockStored | BlockRemoved | AllBlocksCleared;

export interface KvEventBatch {
  /** Seconds since the Unix epoch (Python `time.time()`). */
  ts: number;
  events: KvEvent[];
  dataParallelRank: number | null;
}

/** How the inner events are laid out: `map` since vLLM #42892 (2026-06), `array` before. */
export type EventLayout = 'map' | 'array';
