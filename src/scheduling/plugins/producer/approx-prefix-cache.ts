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
 * With llm-d's parameters (`blockSizeTokens`, `maxPrefixTokensToMatch`) it
 * hashes the prompt as llm-d does instead: blocks of estimated tokens
 * (./token-blocks.ts), at least 64 tokens ≈ 256 bytes each.
 */
import type { Endpoint } from '../../../endpoints/types.ts';
import type { Pool } from '../../../routing/schema.ts';
import { BLOCK_BYTES, MAX_BLOCKS, type Kernel } from '../../kernel/layout.ts';
import type { EndpointRecord } from '../../pool-state.ts';
import { PrefixIndex } from '../../prefix-index.ts';
import type { SchedulingRequest } from '../../scheduler.ts';
import type { ProducerPlugin } from '../types.ts';
import { TokenBlockHasher } from './token-blocks.ts';

export interface ApproxPrefixCacheParameters {
  maxPrefixBlocksToMatch?: number;
  /** Blocks remembered per endpoint when its metrics do not report its KV capacity (or when autoTune is off). */
  lruCapacityPerServer?: number;
  /** llm-d: size the per-endpoint LRU from the KV capacity the endpoint reports (default true). */
  autoTune?: boolean;
  /** llm-d's token blocks: tokens per block (raised to at least 64). Selects the token mode. */
  blockSizeTokens?: number;
  /** llm-d's token blocks: prompt tokens considered (0: no limit but the kernel's). Selects the token mode. */
  maxPrefixTokensToMatch?: number;
}

/** Whether the parameters ask for llm-d's token blocks rather than 64-byte blocks. */
export function usesTokenBlocks(params: ApproxPrefixCacheParameters): boolean {
  return params.blockSizeTokens !== undefined || params.maxPrefixTokensToMatch !== undefined;
}

export const DEFAULT_MAX_PREFIX_BLOCKS = 256;
export const DEFAULT_LRU_CAPACITY = 31_250;
/** ~4 characters per token: a 64-byte block is about 16 tokens of KV cache. */
const TOKENS_PER_BLOCK = 16;

/** Index entries an endpoint can hold: its KV capacity in prompt blocks (of `tokensPerBlock` tokens) when reported. */
export function lruCapacity(endpoint: Endpoint, fallback: number, tokensPerBlock = TOKENS_PER_BLOCK): number {
  const m = endpoint.metrics;
  if (m && m.totalBlocks > 0 && m.blockSize > 0) return Math.max(1, Math.floor((m.totalBlocks * m.blockSize) / tokensPerBlock));
  return fallback;
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
  const tokens = usesTokenBlocks(params)
    ? new TokenBlockHasher({ blockSizeTokens: params.blockSizeTokens ?? 16, maxPrefixTokensToMatch: params.maxPrefixTokensToMatch ?? 131_072, maxPrefixBlocksToMatch: params.maxPrefixBlocksToMatch ?? 0 })
    : undefined;
  const maxBlocks = tokens ? tokens.maxBlocks : Math.min(params.maxPrefixBlocksToMatch ?? DEFAULT_MAX_PREFIX_BLOCKS, MAX_BLOCKS);
  const fallbackCapacity = params.lruCapacityPerServer ?? DEFAULT_LRU_CAPACITY;
  const autoTune = params.autoTune ?? true;
  const tokensPerBlock = tokens ? tokens.blockTokens : TOKENS_PER_BLOCK;
  const encoder = new TextEncoder();
  const indexes = new Map<string, PrefixIndex>();
  const width = 2 * maxBlocks;
  const ring = new Uint32Array(REMEMBERED * width);
  const ringOwner: Array<SchedulingRequest | undefined> = new Array(REMEMBERED).fill(undefined);
  const ringBlocks = new Int32Array(REMEMBERED);
  let ringNext = 0;
  let capped: { kernel: Kernel; input: Uint8Array } | undefined;

  /** Hash the request's prompt into `kernel.hashes`; returns the block count. */
  function hash(request: SchedulingRequest, kernel: Kernel): number {
    if (tokens) return tokens.hash(request.prompt, request.targetModel, kernel);
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
      const n = hash(ctx.request, ctx.kernel);
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
        n = hash(request, kernel);
        source = kernel.hashes;
      }
      if (n === 0) return;
      let index = indexes.get(pool.name);
      if (index === undefined) {
        index = new PrefixIndex();
        indexes.set(pool.name, index);
      }
      const capacity = autoTune ? lruCapacity(endpoint, fallbackCapacity, tokensPerBlock) : fallbackCapacity;
      index.record(record.slot, source, n, capacity, k >= 0 ? k * width : 0);
    },
    indexSize() {
      let entries = 0;
      for (const index of indexes.values()) entries += index.totals.entries;
      return entries;
    },
  };
}
