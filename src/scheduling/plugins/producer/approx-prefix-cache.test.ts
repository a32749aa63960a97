import { describe, expect, it } from 'vitest';
import { TwinKernel } from '../../kernel/twin.ts';
import { PoolState } from '../../pool-state.ts';
import { candidates, context, endpoint, pool, request } from '../../testing.ts';
import { createPrefixCacheScorer } from '../scorer/prefix-cache.ts';
import { configuredParameters, createApproxPrefixCacheProducer, lruCapacity, usesTokenBlocks } from './approx-prefix-cache.ts';

const block = (c: string) => c.repeat(64);

/** Dispatch `sent` prompts to endpoints, then score `prompt`. */
function run(sent: Array<[number, string, string?]>, prompt: string, model = 'm', params = {}, metrics = { totalBlocks: 0 }): number[] {
  const producer = createApproxPrefixCacheProducer('prefix', params);
  const scorer = createPrefixCacheScorer('prefix');
  const kernel = new TwinKernel();
  const state = new PoolState();
  const eps = [0, 1, 2].map((i) => endpoint(i, metrics));
  for (const [i, text, target] of sent) {
    producer.dispatched!(pool(), eps[i]!, state.record(eps[i]!.id, 0), request({ prompt: text, targetModel: target ?? model }), kernel);
  }
  const ctx = context(request({ prompt, targetModel: model }), kernel);
  const cands = candidates(eps).map((c) => ({ ...c, record: state.record(c.endpoint.id, 0) }));
  producer.produce(cands, ctx);
  kernel.scorerKind[0] = scorer.scorer;
  kernel.scorerWeight[0] = 1;
  kernel.scoreAndPick(cands.length, 1, ctx.promptBlocks, 0, 1, 0);
  return Array.from(kernel.scores.slice(0, 3));
}

describe('approx-prefix-cache-producer with the prefix-cache-scorer', () => {
  const cases: Array<{ name: string; sent: Array<[number, string]>; prompt: string; scores: number[] }> = [
    { name: 'nothing sent yet', sent: [], prompt: block('a') + block('b'), scores: [0, 0, 0] },
    { name: 'same prompt → 1', sent: [[1, block('a') + block('b')]], prompt: block('a') + block('b'), scores: [0, 1, 0] },
    { name: 'shared first block of four', sent: [[2, block('a') + block('x')]], prompt: block('a') + block('b') + block('c') + block('d'), scores: [0, 0, 0.25] },
    { name: 'chained: a later block alone does not match', sent: [[0, block('z') + block('b')]], prompt: block('a') + block('b'), scores: [0, 0, 0] },
    { name: 'longest prefix wins', sent: [[0, block('a')], [1, block('a') + block('b') + block('c')]], prompt: block('a') + block('b') + block('c') + block('d'), scores: [0.25, 0.75, 0] },
    { name: 'prompt shorter than a block scores 0', sent: [[0, 'short']], prompt: 'short', scores: [0, 0, 0] },
    { name: 'trailing partial block ignored', sent: [[0, block('a') + 'tail one']], prompt: block('a') + 'tail two', scores: [1, 0, 0] },
  ];
  it.each(cases)('$name', ({ sent, prompt, scores }) => {
    expect(run(sent, prompt)).toEqual(scores);
  });

  it('is seeded by the target model', () => {
    expect(run([[0, block('a'), 'other-model']], block('a'), 'm')).toEqual([0, 0, 0]);
  });

  it('caps the blocks hashed at maxPrefixBlocksToMatch', () => {
    const prompt = block('a') + block('b') + block('c') + block('d');
    expect(run([[1, block('a') + block('b')]], prompt, 'm', { maxPrefixBlocksToMatch: 2 })).toEqual([0, 1, 0]);
  });

  it('evicts least recently sent blocks beyond the capacity', () => {
    expect(run([[0, block('a')], [0, block('b')], [0, block('c')]], block('a'), 'm', { lruCapacityPerServer: 2 })).toEqual([0, 0, 0]);
    expect(run([[0, block('a')], [0, block('b')], [0, block('a')], [0, block('c')]], block('a'), 'm', { lruCapacityPerServer: 2 })).toEqual([1, 0, 0]);
  });

  it('sizes the per-endpoint LRU from reported KV capacity', () => {
    expect(lruCapacity(endpoint(0, { totalBlocks: 1000, blockSize: 16 }), 7)).toBe(1000);
    expect(lruCapacity(endpoint(0, { totalBlocks: 0, blockSize: 16 }), 7)).toBe(7);
  });

  it('hashes UTF-8: multi-byte text still matches itself', () => {
    const prompt = 'ü'.repeat(100);
    expect(run([[2, prompt]], prompt)).toEqual([0, 0, 1]);
  });
});

describe("approx-prefix-cache-producer in llm-d's token blocks", () => {
  const tokens = (c: string, n: number) => c.repeat(256 * n); // n blocks of 64 estimated tokens
  const llmd = configuredParameters({});

  it("reads a configuration's parameters as llm-d: its defaults fill what is left out, blockSize is blockSizeTokens", () => {
    expect(llmd).toEqual({ blockSizeTokens: 16, maxPrefixTokensToMatch: 131_072, maxPrefixBlocksToMatch: 2048 });
    expect(configuredParameters({ blockSize: 64 })).toEqual({ blockSizeTokens: 64, maxPrefixTokensToMatch: 131_072, maxPrefixBlocksToMatch: 2048 });
    expect(configuredParameters({ maxPrefixTokensToMatch: 16_384, lruCapacityPerServer: 31_250 })).toEqual({ blockSizeTokens: 16, maxPrefixTokensToMatch: 16_384, maxPrefixBlocksToMatch: 2048, lruCapacityPerServer: 31_250 });
    expect(configuredParameters({ hashBlockSize: 64, maxPrefixBlocksToMatch: 2048 })).toEqual({ hashBlockSize: 64, maxPrefixBlocksToMatch: 2048 });
    expect([usesTokenBlocks({}), usesTokenBlocks({ maxPrefixBlocksToMatch: 4 }), usesTokenBlocks({ hashBlockSize: 64 })]).toEqual([true, true, false]);
  });

  it('the deprecated blockSize selects token blocks of that many tokens', () => {
    expect(run([[1, 'short prompt']], 'short prompt', 'm', { blockSize: 64 })).toEqual([0, 1, 0]);
  });

  it("sizes the per-endpoint LRU at the engine's KV block count as it is (autoTune)", () => {
    const kv = { totalBlocks: 100, blockSize: 16 };
    const sent: Array<[number, string]> = ['A', 'B', 'C', 'D'].map((c) => [0, tokens(c, 10)]);
    // 40 blocks recorded on a pod with 100 KV blocks: the first prompt is still held.
    expect(run(sent, tokens('A', 10), 'm', llmd, kv)).toEqual([1, 0, 0]);
    expect(run(sent, tokens('A', 10), 'm', { ...llmd, autoTune: false, lruCapacityPerServer: 25 }, kv)).toEqual([0, 0, 0]);
  });

  it('with autoTune the block is the KV block size the endpoints report (at least 64 tokens), not the configured one', () => {
    const kv = { totalBlocks: 1000, blockSize: 16 };
    const sent: Array<[number, string]> = [[0, tokens('a', 1) + tokens('c', 1)]];
    const prompt = tokens('a', 1) + tokens('b', 1);
    expect(run(sent, prompt, 'm', configuredParameters({ blockSizeTokens: 128 }), kv)).toEqual([0.5, 0, 0]);
    expect(run(sent, prompt, 'm', configuredParameters({ blockSizeTokens: 128, autoTune: false }), kv)).toEqual([0, 0, 0]);
  });
});
