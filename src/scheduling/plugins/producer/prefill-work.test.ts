import { describe, expect, it } from 'vitest';
import { BLOCK_BYTES, PickerKind } from '../../kernel/layout.ts';
import { candidates, context, endpoint, pool, request } from '../../testing.ts';
import type { Candidate } from '../types.ts';
import { createPrefillWorkScorer as createScorer, type PrefillWorkParameters } from '../scorer/prefill-work.ts';
import { createPrefillWorkProducer } from './prefill-work.ts';

/** The scorer with the producer it reads, driven as one: the picker runs the producer, then the scorer's kernel arithmetic. */
function createPrefillWorkScorer(name?: string, params?: PrefillWorkParameters) {
  const producer = createPrefillWorkProducer();
  const scorer = createScorer(name, params);
  return { scorer: scorer.scorer, param: scorer.param, prepare: producer.produce, dispatched: producer.dispatched, firstToken: producer.firstToken, completed: producer.completed };
}

let next = 300;

/** Scores of the scorer alone, with the prefix match a prefix-cache scorer would have written (in blocks). */
function score(scorer: ReturnType<typeof createPrefillWorkScorer>, cands: Candidate[], promptBlocks: number, matched?: number[], req = request({ prompt: 'x'.repeat(promptBlocks * BLOCK_BYTES) })): number[] {
  const ctx = context(req);
  if (matched) {
    ctx.prefixMatched = true;
    ctx.promptBlocks = promptBlocks;
    ctx.kernel.prefixMatched.set(matched);
  }
  scorer.prepare(cands, ctx);
  ctx.kernel.scorerKind[0] = scorer.scorer;
  ctx.kernel.scorerWeight[0] = 1;
  ctx.kernel.scorerParam[0] = scorer.param ?? 0;
  ctx.kernel.scoreAndPick(cands.length, 1, ctx.promptBlocks, PickerKind.maxScore, 1, 0);
  return Array.from(ctx.kernel.scores.slice(0, cands.length));
}

/** Dispatch a prompt of `blocks` blocks to candidate c; the match counts when `req` is the request last decided. */
function dispatch(scorer: ReturnType<typeof createPrefillWorkScorer>, c: Candidate, id: string, blocks: number, req = request({ requestId: id, prompt: 'y'.repeat(blocks * BLOCK_BYTES) })) {
  scorer.dispatched!(pool(), c.endpoint, c.record, req, context().kernel);
  return req;
}

describe('prefill-work-producer with the prefill-work-scorer', () => {
  it.each([
    { name: 'nothing pending, no match: all equal → 1', promptBlocks: 10, matched: [0, 0, 0], pending: [0, 0, 0], scores: [1, 1, 1] },
    { name: 'the holder of the prefix has the least work', promptBlocks: 10, matched: [10, 0, 5], pending: [0, 0, 0], scores: [1, 0, 0.5] },
    { name: 'work queued on the holder outweighs its match', promptBlocks: 10, matched: [10, 0, 0], pending: [30, 0, 10], scores: [0, 1, 0.5] },
    { name: 'without a prefix scorer only the pending work counts', promptBlocks: 10, matched: undefined, pending: [4, 0, 2], scores: [0, 1, 0.5] },
  ])('$name', ({ promptBlocks, matched, pending, scores }) => {
    const scorer = createPrefillWorkScorer();
    const cands = candidates(pending.map(() => endpoint(next++)));
    // Pending work: one dispatched prompt per endpoint, each as large as its pending blocks, nothing matched.
    score(scorer, cands, 0);
    pending.forEach((blocks, i) => blocks > 0 && dispatch(scorer, cands[i]!, `p${next}-${i}`, blocks));
    expect(score(scorer, cands, promptBlocks, matched).map((s) => +s.toFixed(6))).toEqual(scores.map((s) => +s.toFixed(6)));
  });

  it('a minimum range keeps small differences from counting as a whole point', () => {
    // 1600 tokens = 100 blocks of span; costs 0 and 10 blocks apart score 1 and 0.9.
    const scorer = createPrefillWorkScorer('pw', { minRangeTokens: 1600 });
    const cands = candidates([endpoint(next++), endpoint(next++)]);
    expect(score(scorer, cands, 10, [10, 0])).toEqual([1, 0.9]);
    // A difference beyond the span is plain min-max.
    expect(score(scorer, cands, 200, [200, 0])).toEqual([1, 0]);
  });

  it('counts a request from dispatch until its first token or its end, whichever comes first', () => {
    const scorer = createPrefillWorkScorer();
    const cands = candidates([endpoint(next++), endpoint(next++)]);
    // The decision saw 4 of the prompt's 10 blocks cached on endpoint 0: 6 blocks of work go there.
    const a = request({ requestId: 'a', prompt: 'y'.repeat(10 * BLOCK_BYTES) });
    score(scorer, cands, 10, [4, 0], a);
    dispatch(scorer, cands[0]!, 'a', 10, a);
    const b = dispatch(scorer, cands[1]!, 'b', 3);
    const pendingNow = () => {
      const ctx = context();
      scorer.prepare(cands, ctx);
      return Array.from(ctx.kernel.pendingWork.slice(0, 2));
    };
    expect(pendingNow()).toEqual([6, 3]);
    scorer.firstToken!(pool(), cands[0]!.endpoint, cands[0]!.record, a);
    expect(pendingNow()).toEqual([0, 3]);
    // Completing after the first token changes nothing more; completing without one releases it.
    scorer.completed!(pool(), cands[0]!.endpoint, cands[0]!.record, a);
    scorer.completed!(pool(), cands[1]!.endpoint, cands[1]!.record, b);
    expect(pendingNow()).toEqual([0, 0]);
  });

  it('a retry on another endpoint moves the request’s work there', () => {
    const scorer = createPrefillWorkScorer();
    const cands = candidates([endpoint(next++), endpoint(next++)]);
    score(scorer, cands, 0);
    const r = dispatch(scorer, cands[0]!, 'r', 8);
    scorer.dispatched!(pool(), cands[1]!.endpoint, cands[1]!.record, r, context().kernel);
    const ctx = context();
    scorer.prepare(cands, ctx);
    expect(Array.from(ctx.kernel.pendingWork.slice(0, 2))).toEqual([0, 8]);
  });
});
