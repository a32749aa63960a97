/**
 * A prompt's engine block hashes, reusing the work of earlier prompts that
 * share its leading tokens: a conversation's next turn repeats the whole
 * history, and hashing it again (SHA-256 per 16-token block) would cost a
 * 240k-token prompt tens of milliseconds per turn. Entries are the recent
 * prompts' tokens with their digests; a new prompt continues the chain from
 * the longest one it extends (compared token by token: exact, not guessed).
 */
import type { BlockExtras, BlockHasher } from '../../../kvevents/block-hash.ts';

interface Entry {
  tokens: ArrayLike<number>;
  lora: string;
  /** The cache_salt of block 0 (it changes every hash of the chain after it). */
  salt: string;
  digests: Uint8Array[];
  hashes: BigUint64Array;
}

export interface BlockHashes {
  hashes: BigUint64Array;
  /** Blocks reused from an earlier prompt (the rest were hashed now). */
  reused: number;
}

export class BlockHashCache {
  readonly #entries: Entry[] = [];

  constructor(
    readonly hasher: BlockHasher,
    readonly capacity = 16,
  ) {}

  /** `cacheSalt`: the request's `cache_salt`, in block 0's extra keys after the LoRA name (vLLM's generate_block_hash_extra_keys). */
  hashes(tokens: ArrayLike<number>, loraName: string | null, cacheSalt: string | null = null): BlockHashes {
    const lora = loraName ?? '';
    const salt = cacheSalt ?? '';
    const bs = this.hasher.config.blockSize;
    const full = Math.floor(tokens.length / bs);
    let best: Entry | undefined;
    let bestBlocks = 0;
    /** Earlier prompts this one extends whole (a conversation's earlier turns): replaced by it. */
    const covered: Entry[] = [];
    for (const e of this.#entries) {
      if (e.lora !== lora || e.salt !== salt) continue;
      const blocks = e.tokens === tokens ? Math.min(full, e.hashes.length) : commonBlocks(e.tokens, tokens, bs, Math.min(full, e.hashes.length));
      if (blocks > bestBlocks) (best = e), (bestBlocks = blocks);
      if (e.tokens !== tokens && blocks === e.hashes.length && e.tokens.length <= tokens.length) covered.push(e);
      if (bestBlocks === full) break;
    }
    const extras: BlockExtras = {};
    if (loraName) extras.loraName = loraName;
    if (cacheSalt) extras.cacheSalt = cacheSalt;
    let entry: Entry;
    if (best && bestBlocks === full && best.hashes.length === full) {
      entry = best;
    } else {
      const rest = this.hasher.hashes(tokens, extras, bestBlocks, bestBlocks > 0 ? best!.digests[bestBlocks - 1]! : null);
      const hashes = new BigUint64Array(full);
      if (bestBlocks > 0) hashes.set(best!.hashes.subarray(0, bestBlocks));
      hashes.set(rest.hashes, bestBlocks);
      const digests = bestBlocks > 0 ? best!.digests.slice(0, bestBlocks).concat(rest.digests) : rest.digests;
      entry = { tokens, lora, salt, digests, hashes };
    }
    // Most recent first; the longest prompt of a conversation replaces its shorter earlier turns
    // (so a long conversation is compared against once per turn, not once per earlier turn).
    const at = this.#entries.indexOf(entry);
    if (at >= 0) this.#entries.splice(at, 1);
    for (const e of covered) {
      const k = this.#entries.indexOf(e);
      if (e !== entry && k >= 0) this.#entries.splice(k, 1);
    }
    this.#entries.unshift(entry);
    if (this.#entries.length > this.capacity) this.#entries.length = this.capacity;
    return { hashes: entry.hashes, reused: bestBlocks };
  }
}

/** Leading full blocks two token arrays share, up to `max`. */
function commonBlocks(a: ArrayLike<number>, b: ArrayLike<number>, bs: number, max: number): number {
  const n = Math.min(a.length, b.length, max * bs);
  let i = 0;
  while (i < n && a[i] === b[i]) i++;
  return Math.min(max, Math.floor(i / bs));
}
