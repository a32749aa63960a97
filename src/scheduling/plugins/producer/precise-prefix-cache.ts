/**
 * precise-prefix-cache-producer (llm-d's name and parameters): per candidate,
 * how many leading blocks of the prompt its engine reports holding — from the
 * engines' own KV events (vLLM's BlockStored / BlockRemoved), not from where
 * this gateway sent what. The request's token ids come from the
 * PromptTokenizer port (the pool's pods' `/tokenize`, cached per conversation
 * prefix, or a local tokenizer.json), are hashed as the engine hashes them
 * (kvevents' BlockHasher: vLLM's chained SHA-256, the LoRA name as extra key,
 * the request's cache_salt in the first block's)
 * and looked up in the pool's index (the KvIndexSource port: the embedded
 * agent's collector or this gateway's copy of a remote agent's).
 *
 * The match is written to the kernel's `prefixMatched` column weighted by
 * tier (llm-d's `indexerConfig.kvCacheBackendConfigs`: gpu 1.0, cpu 0.8 — a
 * block held only off-device counts 0.8) and in 16-token units (≈ the
 * approximate producer's 64-byte blocks, so prefill-work reads it alike).
 *
 * When there is no index for the pool (no events, a copy not in step) or no
 * tokens (no tokenizer, tokenizing failed or timed out), it falls back to the
 * approximate index it keeps warm alongside (approx-prefix-cache-producer's
 * guess) and says which in the decision's explanation.
 *
 * `speculativeIndexing` (llm-d's): a dispatched prompt's blocks count as held
 * by the chosen pod for `speculativeTTL` (2 s) — until its events can have
 * arrived — so a burst sharing a prefix follows the first request instead of
 * spreading while the engine is still prefilling it.
 */
import type { Endpoint } from '../../../endpoints/types.ts';
import { BlockHasher, type PrefixCachingHashAlgo } from '../../../kvevents/block-hash.ts';
import { MEDIUM_GPU } from '../../../kvevents/events.ts';
import type { Pool } from '../../../routing/schema.ts';
import type { Kernel } from '../../kernel/layout.ts';
import type { EndpointRecord } from '../../pool-state.ts';
import type { SchedulingServices, TokenizeOutcome } from '../../prompt-tokens.ts';
import type { SchedulingRequest } from '../../scheduler.ts';
import type { ProducerPlugin } from '../types.ts';
import { createApproxPrefixCacheProducer } from './approx-prefix-cache.ts';
import { BlockHashCache } from './block-hash-cache.ts';

export const PRECISE_PREFIX_CACHE_PRODUCER = 'precise-prefix-cache-producer';

export interface PrecisePrefixCacheParameters {
  tokenProcessorConfig?: { blockSize?: number; hashSeed?: string; hashAlgo?: PrefixCachingHashAlgo };
  indexerConfig?: { kvCacheBackendConfigs?: { name: string; weight: number }[] };
  speculativeIndexing?: boolean;
  /** ms */
  speculativeTTL?: number;
  /** The approximate fallback's cap (approx-prefix-cache-producer's parameter). */
  maxPrefixBlocksToMatch?: number;
}

/** llm-d's defaults (llm-d-kv-cache `tokenProcessorConfig`, `kvCacheBackendConfigs`). */
export const PRECISE_DEFAULTS = { blockSize: 16, hashSeed: '', hashAlgo: 'sha256' as PrefixCachingHashAlgo, gpuWeight: 1, cpuWeight: 0.8, speculativeTTL: 2000 };
/** The kernel's prefix unit: 16 tokens (≈ 64 bytes of text, the approximate producer's block). */
const UNIT_TOKENS = 16;
const BYTES_PER_UNIT = 64;

/** A pool's recent dispatches (speculative indexing): per pod, the prompts sent there and until when they count. */
type Speculation = Map<string, { hashes: BigUint64Array; until: number }[]>;

/** Leading blocks two prompts share (compared as 32-bit halves: no BigInt per block). */
function sharedBlocks(a: BigUint64Array, b: BigUint64Array): number {
  if (a === b) return a.length;
  const x = new Uint32Array(a.buffer, a.byteOffset, a.length * 2);
  const y = new Uint32Array(b.buffer, b.byteOffset, b.length * 2);
  const n = Math.min(x.length, y.length);
  let i = 0;
  while (i < n && x[i] === y[i]) i++;
  return i >>> 1;
}

export function createPrecisePrefixCacheProducer(name = PRECISE_PREFIX_CACHE_PRODUCER, params: PrecisePrefixCacheParameters = {}, services: SchedulingServices = {}): ProducerPlugin {
  const tp = params.tokenProcessorConfig ?? {};
  const hashConfig = { blockSize: tp.blockSize ?? PRECISE_DEFAULTS.blockSize, algo: tp.hashAlgo ?? PRECISE_DEFAULTS.hashAlgo, seed: tp.hashSeed ?? PRECISE_DEFAULTS.hashSeed };
  // Made on first use: the services (a native SHA-256 among them) are filled after the plugins are built.
  let hashCache: BlockHashCache | undefined;
  const hashes = () => (hashCache ??= new BlockHashCache(new BlockHasher(hashConfig, services.sha256)));
  const unit = hashConfig.blockSize / UNIT_TOKENS;
  const tiers = params.indexerConfig?.kvCacheBackendConfigs ?? [];
  const gpuWeight = tiers.find((t) => t.name.toUpperCase() === MEDIUM_GPU)?.weight ?? PRECISE_DEFAULTS.gpuWeight;
  const cpuWeight = tiers.find((t) => t.name.toUpperCase() === 'CPU')?.weight ?? PRECISE_DEFAULTS.cpuWeight;
  const ttl = params.speculativeTTL ?? PRECISE_DEFAULTS.speculativeTTL;
  const approx = createApproxPrefixCacheProducer(`${name}/approx`, { maxPrefixBlocksToMatch: params.maxPrefixBlocksToMatch ?? 2048 });
  const tokens = new WeakMap<SchedulingRequest, TokenizeOutcome>();
  const hashed = new WeakMap<SchedulingRequest, BigUint64Array>();
  const speculation = new Map<string, Speculation>();
  let ids: string[] = [];
  // The decision's clock (simulated in the benchmark), for the dispatch that follows it.
  let lastNow = 0;

  /** Blocks of `hashes` the pod was recently sent (0 when none is in force). */
  const speculated = (s: Speculation | undefined, pod: string, hashes: BigUint64Array, now: number): number => {
    const recent = s?.get(pod);
    if (!recent) return 0;
    let best = 0;
    for (let k = recent.length - 1; k >= 0; k--) {
      const r = recent[k]!;
      if (r.until <= now) {
        recent.splice(k, 1);
        continue;
      }
      best = Math.max(best, sharedBlocks(r.hashes, hashes));
    }
    return best;
  };

  return {
    kind: 'producer',
    type: PRECISE_PREFIX_CACHE_PRODUCER,
    name,
    prepare(pool, snapshot, request) {
      const tokenizer = services.tokenizer;
      if (!tokenizer || !services.kvIndex || services.blockHashes || tokens.has(request)) return undefined;
      const r = tokenizer.tokenize(pool, snapshot.endpoints, request);
      if (!(r instanceof Promise)) {
        tokens.set(request, r);
        return undefined;
      }
      return r.then((o) => void tokens.set(request, o));
    },
    produce(candidates, ctx) {
      lastNow = ctx.now;
      const view = services.kvIndex?.view(ctx.pool);
      const known = services.blockHashes?.(ctx.request);
      const t: TokenizeOutcome | undefined = known ? { tokens: [], partial: false, loraName: null, source: 'the harness\'s engine block keys' } : tokens.get(ctx.request);
      const why = !services.kvIndex ? 'no KV-event index is configured (--kv-events, or an agent with --kv-events)'
        : !view ? services.kvIndex.whyNot(ctx.pool)
        : !services.tokenizer && !known ? 'no tokenizer is configured'
        : t === undefined ? 'the prompt was not tokenized'
        : 'error' in t ? `no token ids: ${t.error}` : undefined;
      if (why !== undefined || !view || !t || 'error' in t) {
        approx.produce(candidates, ctx);
        if (ctx.notes) {
          ctx.notes.pool.prefixIndex = { source: 'guess', reason: why };
          for (let i = 0; i < candidates.length; i++) ctx.notes.candidate(candidates[i]!.endpoint.id).prefix = { from: 'guess', blocks: ctx.kernel.prefixMatched[i] };
        }
        return;
      }
      const { hashes: blockHashes, reused } = known ? { hashes: known, reused: 0 } : hashes().hashes(t.tokens, t.loraName, ctx.request.cacheSalt ?? null);
      hashed.set(ctx.request, blockHashes);
      if (ids.length !== candidates.length) ids = new Array<string>(candidates.length);
      for (let i = 0; i < candidates.length; i++) ids[i] = candidates[i]!.endpoint.id;
      const matches = view.lookup(blockHashes, ids);
      const spec = params.speculativeIndexing ? speculation.get(ctx.pool.name) : undefined;
      const column = ctx.kernel.prefixMatched;
      for (let i = 0; i < candidates.length; i++) {
        const m = matches[i]!;
        const held = m.deviceBlocks * gpuWeight + (m.blocks - m.deviceBlocks) * cpuWeight;
        const guessed = spec ? speculated(spec, ids[i]!, blockHashes, ctx.now) : 0;
        const speculative = guessed * gpuWeight;
        column[i] = Math.max(held, speculative) * unit;
        if (ctx.notes) {
          ctx.notes.candidate(ids[i]!).prefix = { from: speculative > held ? 'speculative' : 'events', blocks: m.blocks, gpuBlocks: m.deviceBlocks, ...(speculative > held ? { speculativeBlocks: guessed } : {}) };
        }
      }
      // A partial tokenization (an earlier turn) knows fewer blocks than the prompt has: count the rest by its text.
      ctx.promptBlocks = Math.max(Math.round(blockHashes.length * unit), t.partial ? Math.floor(ctx.request.prompt.length / BYTES_PER_UNIT) : 0);
      ctx.prefixMatched = true;
      if (ctx.notes) {
        ctx.notes.pool.prefixIndex = {
          source: 'events',
          indexAgeMs: view.updatedAt > 0 ? Math.max(0, ctx.now - view.updatedAt) : null,
          syncedAgoMs: Math.max(0, ctx.now - view.syncedAt),
          tokens: t.source + (t.partial ? ' (an earlier turn; the rest is being tokenized)' : ''),
          promptBlocks: blockHashes.length,
          blockSize: hashConfig.blockSize,
          hashesReused: reused,
        };
      }
    },
    dispatched(pool: Pool, endpoint: Endpoint, record: EndpointRecord, request: SchedulingRequest, kernel: Kernel) {
      approx.dispatched?.(pool, endpoint, record, request, kernel);
      const hashes = hashed.get(request);
      if (!params.speculativeIndexing || !hashes || hashes.length === 0) return;
      let s = speculation.get(pool.name);
      if (!s) speculation.set(pool.name, (s = new Map()));
      const recent = s.get(endpoint.id) ?? [];
      s.set(endpoint.id, recent);
      // An earlier turn of this prompt (or the same prompt again) is covered by it: keep one entry, the longest.
      for (let k = recent.length - 1; k >= 0; k--) {
        const r = recent[k]!;
        if (r.until <= lastNow || sharedBlocks(r.hashes, hashes) === r.hashes.length) recent.splice(k, 1);
      }
      recent.push({ hashes, until: lastNow + ttl });
    },
  };
}
