/**
 * approx-prefix-cache-producer (llm-d's name): per candidate, the prompt's
 * leading blocks this gateway recently sent to the endpoint (so its KV cache
 * likely still holds them) — the longest matched prefix, in blocks, written
 * to the kernel's `prefixMatched` column for the prefix-cache and
 * prefill-work scorers to read. On each dispatch it records the prompt's
 * blocks against the chosen endpoint, in a per-pool index with an LRU per
 * endpoint.
 *
 * The prompt is UTF-8 encoded straight into the kernel's input region
 * (TextEncoder.encodeInto, no intermediate copy), cut at
 * `maxPrefixBlocksToMatch` × 64 bytes, and hashed there in chained 64-byte
 * blocks seeded by the target model. The cap bounds the cost. The plugin's
 * default, 256 blocks (16 KiB), is GIE's; infergate's default profile sets
 * 2048 (128 KiB), because in multi-turn chat the history beyond the system
 * prompt is what tells its holder apart — at a cost for long prompts: for a
 * 32 KiB prompt a decision takes ~7 µs and a dispatch ~50 µs more than with
 * 256 (docs/benchmarks.md, Scheduling decision).
 *
 * With llm-d's parameters (`blockSizeTokens`, `maxPrefixTokensToMatch`, the
 * deprecated `blockSize`) it hashes the prompt as llm-d does instead: blocks
 * of estimated tokens (./token-blocks.ts), at least 64 tokens ≈ 256 bytes
 * each. In a configuration file that is the only meaning, as in llm-d: there
 * the 64-byte blocks take `hashBlockSize: 64` (configuredParameters).
 */
import type { Endpoint } from '../../../endpoints/types.ts';
import type { Pool } from '../../../routing/schema.ts';
import { BLOCK_BYTES, MAX_BLOCKS, type Kernel } from '../../kernel/layout.ts';
import type { EndpointRecord } from '../../pool-state.ts';
import { PrefixIndex } from '../../prefix-index.ts';
import type { SchedulingRequest } from '../../scheduler.ts';
import type { ProducerPlugin } from '../types.ts';
import { MIN_BLOCK_TOKENS, TokenBlockHasher, effectiveBlockTokens } from './token-blocks.ts';

export interface ApproxPrefixCacheParameters {
  /** Blocks hashed at most: 64-byte blocks; token blocks only when maxPrefixTokensToMatch is 0 (llm-d). */
  maxPrefixBlocksToMatch?: number;
  /** Blocks remembered per endpoint when its metrics do not report its KV capacity (or when autoTune is off). */
  lruCapacityPerServer?: number;
  /** llm-d: size the per-endpoint LRU (and the token block) from what the endpoint reports (default true). */
  autoTune?: boolean;
  /** llm-d's token blocks: tokens per block (raised to at least 64). Selects the token mode. */
  blockSizeTokens?: number;
  /** llm-d's token blocks: caps the blocks at ⌊tokens / block size⌋ (0: maxPrefixBlocksToMatch does). Selects the token mode. */
  maxPrefixTokensToMatch?: number;
  /** llm-d's deprecated block size, read as blockSizeTokens (as llm-d does). Selects the token mode. */
  blockSize?: number;
  /** infergate's (and GIE's) 64-byte blocks: 64 is the only value. */
  hashBlockSize?: number;
}

/** llm-d's defaultConfig (approximateprefix/types.go). */
export const LLMD_DEFAULT_BLOCK_SIZE_TOKENS = 16;
export const LLMD_DEFAULT_MAX_PREFIX_TOKENS = 131_072;
export const LLMD_DEFAULT_MAX_PREFIX_BLOCKS = 2048;

/** Whether parameters given to the factory name llm-d's token blocks (otherwise: 64-byte blocks). */
function namesTokenBlocks(params: ApproxPrefixCacheParameters): boolean {
  return params.blockSizeTokens !== undefined || params.maxPrefixTokensToMatch !== undefined || params.blockSize !== undefined;
}

/**
 * Whether a configuration's prefix parameters (the producer's, or those a
 * prefix-cache-scorer carries for its own) mean llm-d's token blocks: they
 * do unless `hashBlockSize` asks for 64-byte blocks — llm-d has no other
 * mode, and fills what is left out with its defaults. A scorer naming its
 * producer reads that producer's blocks.
 */
export function usesTokenBlocks(params: ApproxPrefixCacheParameters & { prefixMatchInfoProducerName?: unknown }): boolean {
  return params.hashBlockSize === undefined && params.prefixMatchInfoProducerName === undefined;
}

/**
 * A configuration's parameters as llm-d reads them (ApproxPrefixCacheFactory
 * decodes them over its defaultConfig): token blocks of `blockSizeTokens`
 * (16, or the deprecated `blockSize`), capped at `maxPrefixTokensToMatch`
 * (131072) tokens, or `maxPrefixBlocksToMatch` (2048) blocks when that is 0.
 * With `hashBlockSize` they are infergate's 64-byte blocks, unchanged.
 */
export function configuredParameters(params: ApproxPrefixCacheParameters): ApproxPrefixCacheParameters {
  if (!usesTokenBlocks(params)) return params;
  const { blockSize, ...rest } = params;
  return {
    ...rest,
    blockSizeTokens: params.blockSizeTokens ?? blockSize ?? LLMD_DEFAULT_BLOCK_SIZE_TOKENS,
    maxPrefixTokensToMatch: params.maxPrefixTokensToMatch ?? LLMD_DEFAULT_MAX_PREFIX_TOKENS,
    maxPrefixBlocksToMatch: params.maxPrefixBlocksToMatch ?? LLMD_DEFAULT_MAX_PREFIX_BLOCKS,
  };
}

export const DEFAULT_MAX_PREFIX_BLOCKS = 256;
export const DEFAULT_LRU_CAPACITY = 31_250;
/** ~4 characters per token: a 64-byte block is about 16 tokens of KV cache. */
const TOKENS_PER_BLOCK = 16;

/** 64-byte blocks an endpoint's KV cache holds, when it reports its capacity (else `fallback`). */
export function lruCapacity(endpoint: Endpoint, fallback: number): number {
  const m = endpoint.metrics;
  if (m && m.totalBlocks > 0 && m.blockSize > 0) return Math.max(1, Math.floor((m.totalBlocks * m.blockSize) / TOKENS_PER_BLOCK));
  return fallback;
}

/**
 * Token-block mode: llm-d's makeserver takes the engine's KV block count as
 * the LRU's capacity as it is (its blocks, not the index's larger ones).
 */
export function tokenLruCapacity(endpoint: Endpoint, fallback: number): number {
  const total = endpoint.metrics?.totalBlocks ?? 0;
  return total > 0 ? total : fallback;
}

/**
 * Block hashes of recent decisions, kept until `dispatched()` records them:
 * the data path dispatches right after deciding (a retry on a fallback may
 * come later, after other decisions), so a small ring of preallocated
 * buffers suffices; a request whose entry was overwritten is hashed again.
 */
const REMEMBERED = 16;

export const APPROX_PREFIX_CACHE_PRODUCER = 'approx-prefix-cache-producer';

export function createApproxPrefixCacheProducer(name = APPROX_PREFIX_CACHE_PRODUCER, params: ApproxPrefixCacheParameters = {}): ProducerPlugin {
  const autoTune = params.autoTune ?? true;
  const fallbackCapacity = params.lruCapacityPerServer ?? DEFAULT_LRU_CAPACITY;
  const tokenMode = namesTokenBlocks(params);
  const configuredBlockTokens = params.blockSizeTokens ?? params.blockSize ?? LLMD_DEFAULT_BLOCK_SIZE_TOKENS;
  const caps = { maxPrefixTokensToMatch: params.maxPrefixTokensToMatch ?? LLMD_DEFAULT_MAX_PREFIX_TOKENS, maxPrefixBlocksToMatch: params.maxPrefixBlocksToMatch ?? LLMD_DEFAULT_MAX_PREFIX_BLOCKS };
  // One hasher per block size in use (with autoTune the endpoints say which: one, in practice).
  const hashers = new Map<number, TokenBlockHasher>();
  const hasherFor = (blockTokens: number): TokenBlockHasher => {
    let h = hashers.get(blockTokens);
    if (h === undefined) hashers.set(blockTokens, (h = new TokenBlockHasher({ blockSizeTokens: blockTokens, ...caps })));
    return h;
  };
  /** llm-d's GetBlockSize: with autoTune the KV block size the endpoint reports, else the configured one; at least 64 tokens. */
  const blockTokensFor = (endpoint: Endpoint | undefined): number => {
    const reported = autoTune ? (endpoint?.metrics?.blockSize ?? 0) : 0;
    return effectiveBlockTokens(reported > 0 ? reported : configuredBlockTokens);
  };
  // The most blocks a prompt can hash: smaller blocks make more of them under a token cap.
  const maxBlocks = tokenMode
    ? hasherFor(autoTune ? MIN_BLOCK_TOKENS : effectiveBlockTokens(configuredBlockTokens)).maxBlocks
    : Math.min(params.maxPrefixBlocksToMatch ?? DEFAULT_MAX_PREFIX_BLOCKS, MAX_BLOCKS);
  const encoder = new TextEncoder();
  const indexes = new Map<string, PrefixIndex>();
  const width = 2 * maxBlocks;
  const ring = new Uint32Array(REMEMBERED * width);
  const ringOwner: Array<SchedulingRequest | undefined> = new Array(REMEMBERED).fill(undefined);
  const ringBlocks = new Int32Array(REMEMBERED);
  let ringNext = 0;
  let capped: { kernel: Kernel; input: Uint8Array } | undefined;

  /** Hash the request's prompt into `kernel.hashes` (token blocks sized by `endpoint`); returns the block count. */
  function hash(request: SchedulingRequest, kernel: Kernel, endpoint: Endpoint | undefined): number {
    if (tokenMode) return hasherFor(blockTokensFor(endpoint)).hash(request.prompt, request.targetModel, kernel);
    if (capped?.kernel !== kernel) capped = { kernel, input: kernel.input.subarray(0, maxBlocks * BLOCK_BYTES) };
    const modelLen = encoder.encodeInto(request.targetModel, kernel.model).written;
    const promptLen = encoder.encodeInto(request.prompt, capped.input).written;
    return kernel.hashPrompt(modelLen, promptLen, maxBlocks);
  }

  function remember(request: SchedulingRequest, hashes: Uint32Array, n: number): void {
    const k = ringNext;
    ringNext = (k + 1) % REMEMBERED;
    ringOwner[k] = request;
    ringBlocks[k] = n;
    const base = k * width;
    for (let i = 0; i < 2 * n; i++) ring[base + i] = hashes[i]!;
  }

  return {
    kind: 'producer',
    type: APPROX_PREFIX_CACHE_PRODUCER,
    name,
    produce(candidates, ctx) {
      const column = ctx.kernel.prefixMatched;
      const n = hash(ctx.request, ctx.kernel, candidates[0]?.endpoint);
      ctx.promptBlocks = n;
      ctx.prefixMatched = true;
      const index = indexes.get(ctx.pool.name);
      if (n > 0) remember(ctx.request, ctx.kernel.hashes, n);
      if (n === 0 || index === undefined) {
        column.fill(0, 0, candidates.length);
        return;
      }
      index.lookup(ctx.kernel.hashes, n);
      for (let i = 0; i < candidates.length; i++) column[i] = index.matchedFor(candidates[i]!.record.slot);
      index.reset();
    },
    dispatched(pool: Pool, endpoint: Endpoint, record: EndpointRecord, request: SchedulingRequest, kernel: Kernel) {
      let source: ArrayLike<number> = ring;
      let n = 0;
      const k = ringOwner.indexOf(request);
      if (k >= 0) {
        n = ringBlocks[k]!;
      } else {
        n = hash(request, kernel, endpoint);
        source = kernel.hashes;
      }
      if (n === 0) return;
      let index = indexes.get(pool.name);
      if (index === undefined) {
        index = new PrefixIndex();
        indexes.set(pool.name, index);
      }
      const capacity = !autoTune ? fallbackCapacity : tokenMode ? tokenLruCapacity(endpoint, fallbackCapacity) : lruCapacity(endpoint, fallbackCapacity);
      index.record(record.slot, source, n, capacity, k >= 0 ? k * width : 0);
    },
    indexSize() {
      let entries = 0;
      for (const index of indexes.values()) entries += index.totals.entries;
      return entries;
    },
  };
}
