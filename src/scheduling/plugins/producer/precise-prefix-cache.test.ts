/**
 * The precise producer's parts without I/O: block hashes reused across a
 * conversation's turns equal hashing from scratch; the lookup is weighted by
 * tier and scaled to 16-token units; without an index or tokens it writes the
 * approximate guess and says why; the speculative index holds a dispatched
 * prompt for its TTL.
 */
import { describe, expect, it } from 'vitest';
import { BlockHasher } from '../../../kvevents/block-hash.ts';
import { KvBlockIndex } from '../../../kvevents/block-index.ts';
import type { KvIndexSource } from '../../../kvevents/index-view.ts';
import type { Pool } from '../../../routing/schema.ts';
import { TwinKernel } from '../../kernel/twin.ts';
import type { PromptTokenizer } from '../../prompt-tokens.ts';
import type { SchedulingRequest } from '../../scheduler.ts';
import type { Candidate, DecisionContext } from '../types.ts';
import { BlockHashCache } from './block-hash-cache.ts';
import { createPrecisePrefixCacheProducer } from './precise-prefix-cache.ts';

const pool = { name: 'p', selector: {}, targetPorts: [8000], failureMode: 'FailClose' } as unknown as Pool;
const tokens = (n: number, salt = 0) => Uint32Array.from({ length: n }, (_, i) => (i * 7 + salt) % 50_000);

describe('BlockHashCache', () => {
  it('continues the chain from the longest earlier prompt and equals hashing from scratch', () => {
    const hasher = new BlockHasher({ blockSize: 16, algo: 'sha256', seed: '0' });
    const cache = new BlockHashCache(hasher);
    const turn1 = tokens(16 * 10 + 5);
    const turn2 = Uint32Array.from([...turn1, ...tokens(16 * 6, 3)]);
    expect(cache.hashes(turn1, null).reused).toBe(0);
    const second = cache.hashes(turn2, null);
    expect(second.reused).toBe(10);
    expect([...second.hashes]).toEqual([...hasher.hashes(turn2).hashes]);
    // Another adapter's blocks are keyed differently: nothing reused.
    const lora = cache.hashes(turn2, 'english-bot');
    expect(lora.reused).toBe(0);
    expect([...lora.hashes]).toEqual([...hasher.hashes(turn2, { loraName: 'english-bot' }).hashes]);
  });
});

function candidates(ids: string[]): Candidate[] {
  return ids.map((id, slot) => ({ endpoint: { id, address: '127.0.0.1', port: 1, labels: {}, ready: true, engine: 'vllm' }, metrics: {} as never, ageMs: 0, record: { slot } as never }));
}

function context(request: SchedulingRequest, kernel = new TwinKernel()): DecisionContext {
  const byId = new Map<string, Record<string, unknown>>();
  return { pool, request, now: 1000, kernel, promptBlocks: 0, rejected: [], notes: { pool: {}, candidate: (id) => byId.get(id) ?? (byId.set(id, {}), byId.get(id)!) } };
}

describe('precise-prefix-cache-producer', () => {
  const hasher = new BlockHasher({ blockSize: 16, algo: 'sha256', seed: '0' });
  const prompt = tokens(16 * 8);
  const hashes = hasher.hashes(prompt).hashes;
  const index = new KvBlockIndex();
  index.store('a', [...hashes.subarray(0, 8)]);
  index.store('b', [...hashes.subarray(0, 4)]);
  index.store('b', [...hashes.subarray(4, 8)], 'CPU');
  const kvIndex: KvIndexSource = { view: () => ({ lookup: (h, p) => index.lookup(h, p), updatedAt: 900, syncedAt: 990 }), whyNot: () => '' };
  const tokenizer: PromptTokenizer = { tokenize: () => ({ tokens: prompt, partial: false, loraName: null, source: 'test' }) };
  const request = (id: string): SchedulingRequest => ({ requestId: id, targetModel: 'm', requestedModel: 'm', prompt: 'x'.repeat(8 * 64), criticality: 'Standard', priority: 0, explain: true });

  it('writes the tier-weighted match (gpu 1.0, cpu 0.8) and says it came from events, with the index age', () => {
    const p = createPrecisePrefixCacheProducer('p', { tokenProcessorConfig: { hashSeed: '0' } }, { kvIndex, tokenizer });
    const r = request('1');
    expect(p.prepare!(pool, { pool: 'p', endpoints: [], at: 0, hasMetrics: true }, r)).toBeUndefined();
    const ctx = context(r);
    p.produce(candidates(['a', 'b', 'c']), ctx);
    expect([...ctx.kernel.prefixMatched.subarray(0, 3)]).toEqual([8, 4 + 4 * 0.8, 0]);
    expect(ctx.promptBlocks).toBe(8);
    expect(ctx.notes!.pool.prefixIndex).toMatchObject({ source: 'events', indexAgeMs: 100, syncedAgoMs: 10, tokens: 'test', promptBlocks: 8 });
    expect(ctx.notes!.candidate('b').prefix).toEqual({ from: 'events', blocks: 8, gpuBlocks: 4 });
  });

  it('hashes the request\'s cache_salt into the first block as vLLM does, and never reuses a chain across salts', () => {
    // vLLM's hashes (CPython pickle protocol 5 + SHA-256, PYTHONHASHSEED=0) of tokens 100..163 with cache_salt "tenant-a".
    const engine = [13597762773780239544n, 14690081652337106796n, 3998806322976056370n, 17574593906220798803n];
    const toks = Uint32Array.from({ length: 64 }, (_, i) => 100 + i);
    const idx = new KvBlockIndex();
    idx.store('salted', engine);
    const p = createPrecisePrefixCacheProducer('p', { tokenProcessorConfig: { hashSeed: '0' } }, {
      kvIndex: { view: () => ({ lookup: (h, q) => idx.lookup(h, q), updatedAt: 0, syncedAt: 0 }), whyNot: () => '' },
      tokenizer: { tokenize: () => ({ tokens: toks, partial: false, loraName: null, source: 'test' }) },
    });
    const matched = (r: SchedulingRequest) => {
      p.prepare!(pool, { pool: 'p', endpoints: [], at: 0, hasMetrics: true }, r);
      const ctx = context(r);
      p.produce(candidates(['salted']), ctx);
      return ctx.kernel.prefixMatched[0];
    };
    expect(matched({ ...request('s1'), cacheSalt: 'tenant-a' })).toBe(4);
    expect(matched(request('u1'))).toBe(0);
    expect(matched({ ...request('s2'), cacheSalt: 'tenant-b' })).toBe(0);
    expect(matched({ ...request('s3'), cacheSalt: 'tenant-a' })).toBe(4);
  });

  it('scales 64-token blocks to the kernel\'s 16-token unit', () => {
    const big = new BlockHasher({ blockSize: 64, algo: 'sha256', seed: '0' });
    const idx = new KvBlockIndex();
    idx.store('a', [...big.hashes(prompt).hashes]);
    const p = createPrecisePrefixCacheProducer('p', { tokenProcessorConfig: { blockSize: 64, hashSeed: '0' } }, { kvIndex: { view: () => ({ lookup: (h, q) => idx.lookup(h, q), updatedAt: 0, syncedAt: 0 }), whyNot: () => '' }, tokenizer });
    const r = request('2');
    p.prepare!(pool, { pool: 'p', endpoints: [], at: 0, hasMetrics: true }, r);
    const ctx = context(r);
    p.produce(candidates(['a']), ctx);
    expect(ctx.kernel.prefixMatched[0]).toBe(8);
    expect(ctx.promptBlocks).toBe(8);
  });

  it('falls back to the guess and says why: no index, then no tokens', () => {
    const none = createPrecisePrefixCacheProducer('p', {}, {});
    const ctx = context(request('3'));
    none.produce(candidates(['a']), ctx);
    expect(ctx.notes!.pool.prefixIndex).toMatchObject({ source: 'guess', reason: expect.stringMatching(/no KV-event index/) });
    expect(ctx.notes!.candidate('a').prefix).toMatchObject({ from: 'guess' });
    const failing = createPrecisePrefixCacheProducer('p', {}, { kvIndex, tokenizer: { tokenize: () => ({ error: 'pod said 500' }) } });
    const r = request('4');
    failing.prepare!(pool, { pool: 'p', endpoints: [], at: 0, hasMetrics: true }, r);
    const ctx2 = context(r);
    failing.produce(candidates(['a']), ctx2);
    expect(ctx2.notes!.pool.prefixIndex).toMatchObject({ source: 'guess', reason: 'no token ids: pod said 500' });
  });

  it('speculative indexing: a dispatched prompt counts as held by its pod until the TTL', () => {
    const empty = new KvBlockIndex();
    const p = createPrecisePrefixCacheProducer('p', { tokenProcessorConfig: { hashSeed: '0' }, speculativeIndexing: true, speculativeTTL: 500 }, { kvIndex: { view: () => ({ lookup: (h, q) => empty.lookup(h, q), updatedAt: 0, syncedAt: 0 }), whyNot: () => '' }, tokenizer });
    const kernel = new TwinKernel();
    const first = request('5');
    p.prepare!(pool, { pool: 'p', endpoints: [], at: 0, hasMetrics: true }, first);
    const c = candidates(['a', 'b']);
    p.produce(c, context(first, kernel));
    p.dispatched!(pool, c[1]!.endpoint, c[1]!.record, first, kernel);
    const next = request('6');
    p.prepare!(pool, { pool: 'p', endpoints: [], at: 0, hasMetrics: true }, next);
    const ctx = context(next, kernel);
    p.produce(c, ctx);
    expect([...kernel.prefixMatched.subarray(0, 2)]).toEqual([0, 8]);
    expect(ctx.notes!.candidate('b').prefix).toMatchObject({ from: 'speculative', speculativeBlocks: 8 });
    const later = { ...context(request('7'), kernel), now: 1000 + 501 };
    p.prepare!(pool, { pool: 'p', endpoints: [], at: 0, hasMetrics: true }, later.request);
    p.produce(c, later);
    expect([...kernel.prefixMatched.subarray(0, 2)]).toEqual([0, 0]);
  });
});
