/**
 * Prompt blocks hashed the way llm-d's approx-prefix-cache-producer hashes
 * them when no tokenizer runs (its `estimate` token producer): the prompt's
 * UTF-8 bytes packed 4 to a pseudo-token (little-endian, the last one
 * zero-padded), blocks of `blockSizeTokens` tokens including the trailing
 * partial block, each block hash chained to the previous one:
 *
 *   seed  = XXH64(target model)
 *   h[i]  = XXH64( le64(XXH64(block i's token bytes)) ‖ le64(h[i-1]) ),  h[-1] = seed
 *
 * (llm-d-router `prefixhash/hashing.go`, `tokenizer/estimate.go`; see
 * docs/compatibility.md §a.) The hashes land in the kernel's `hashes` region
 * as (lo, hi) pairs, where the prefix index reads them like the 64-byte
 * blocks of infergate's own mode.
 */
import { MAX_BLOCKS, type Kernel } from '../../kernel/layout.ts';
import { resultHi, resultLo, xxh64 } from '../../kernel/xxhash64.ts';

/** llm-d raises smaller blocks to this. */
export const MIN_BLOCK_TOKENS = 64;
/** Bytes per pseudo-token of the estimate. */
export const BYTES_PER_TOKEN = 4;

export interface TokenBlockOptions {
  blockSizeTokens: number;
  /** Caps the blocks hashed at ⌊tokens / block size⌋ (llm-d's resolveMaxBlocks; 0: maxPrefixBlocksToMatch caps them). */
  maxPrefixTokensToMatch: number;
  /** Blocks hashed when maxPrefixTokensToMatch is 0 (0: no limit beyond the kernel's). */
  maxPrefixBlocksToMatch: number;
}

/**
 * Blocks hashed at most, as llm-d's resolveMaxBlocks: the token cap wins
 * whenever it is set, rounded down to whole blocks (a cap below one block
 * hashes nothing); the block cap applies only without it.
 */
export function maxBlocksFor(blockTokens: number, options: Omit<TokenBlockOptions, 'blockSizeTokens'>): number {
  const blocks = options.maxPrefixTokensToMatch > 0 ? Math.floor(options.maxPrefixTokensToMatch / blockTokens)
    : options.maxPrefixBlocksToMatch > 0 ? options.maxPrefixBlocksToMatch : MAX_BLOCKS;
  return Math.min(blocks, MAX_BLOCKS);
}

/** The tokens a block holds once llm-d's floor applies. */
export function effectiveBlockTokens(blockSizeTokens: number | undefined): number {
  return Math.max(MIN_BLOCK_TOKENS, blockSizeTokens ?? 16);
}

export class TokenBlockHasher {
  readonly blockTokens: number;
  readonly maxBlocks: number;
  readonly #maxBytes: number;
  readonly #encoder = new TextEncoder();
  #bytes: Uint8Array;
  #words: Uint32Array;
  readonly #model = new Uint8Array(1024);
  readonly #modelWords = new Uint32Array(this.#model.buffer);
  readonly #pair = new Uint32Array(4);
  readonly #pairBytes = new Uint8Array(this.#pair.buffer);

  constructor(options: TokenBlockOptions) {
    this.blockTokens = effectiveBlockTokens(options.blockSizeTokens);
    this.maxBlocks = maxBlocksFor(this.blockTokens, options);
    // Whole blocks only: the cap counts blocks, and the last one hashed may be partial only where the prompt ends.
    this.#maxBytes = this.maxBlocks * this.blockTokens * BYTES_PER_TOKEN;
    this.#bytes = new Uint8Array(Math.min(this.#maxBytes, 64 * 1024));
    this.#words = new Uint32Array(this.#bytes.buffer);
  }

  /** Hash the prompt's blocks into `kernel.hashes`; returns the block count. */
  hash(prompt: string, model: string, kernel: Kernel): number {
    const written = this.#encode(prompt);
    if (written === 0) return 0;
    const modelLen = this.#encoder.encodeInto(model, this.#model).written;
    xxh64(this.#model, this.#modelWords, 0, modelLen, 0, 0);
    let prevHi = resultHi(), prevLo = resultLo();
    const blockBytes = this.blockTokens * BYTES_PER_TOKEN;
    const padded = Math.ceil(written / BYTES_PER_TOKEN) * BYTES_PER_TOKEN;
    const blocks = Math.min(Math.ceil(padded / blockBytes), this.maxBlocks);
    const hashes = kernel.hashes;
    const pair = this.#pair;
    for (let j = 0; j < blocks; j++) {
      const start = j * blockBytes;
      xxh64(this.#bytes, this.#words, start, Math.min(blockBytes, padded - start), 0, 0);
      pair[0] = resultLo();
      pair[1] = resultHi();
      pair[2] = prevLo;
      pair[3] = prevHi;
      xxh64(this.#pairBytes, pair, 0, 16, 0, 0);
      prevHi = resultHi();
      prevLo = resultLo();
      hashes[2 * j] = prevLo;
      hashes[2 * j + 1] = prevHi;
    }
    return blocks;
  }

  /** UTF-8 of the prompt, cut at the byte budget, zero-padded to whole tokens; returns the bytes written. */
  #encode(prompt: string): number {
    // UTF-8 is at most 3 bytes per UTF-16 unit: grow the scratch only as far as this prompt can need.
    const need = Math.min(this.#maxBytes, prompt.length * 3 + BYTES_PER_TOKEN);
    if (need > this.#bytes.length) {
      this.#bytes = new Uint8Array(Math.ceil(need / BYTES_PER_TOKEN) * BYTES_PER_TOKEN);
      this.#words = new Uint32Array(this.#bytes.buffer);
    }
    const target = this.#bytes.subarray(0, Math.min(this.#maxBytes, this.#bytes.length));
    const written = this.#encoder.encodeInto(prompt, target).written;
    const end = Math.min(Math.ceil(written / BYTES_PER_TOKEN) * BYTES_PER_TOKEN, this.#bytes.length);
    this.#bytes.fill(0, written, end);
    return written;
  }
}
