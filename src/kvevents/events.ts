/**
 * vLLM's KV-cache events (vllm/distributed/kv_events.py), as the agent and the
 * simulator hold them. Field names follow the engine's; hashes are the 64-bit
 * integers vLLM publishes by default (VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES).
 * See docs/kv-events.md for the wire format and sources.
 */

/** The medium vLLM names for blocks in device memory (`MEDIUM_GPU`). */
export const MEDIUM_GPU = 'GPU';

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
