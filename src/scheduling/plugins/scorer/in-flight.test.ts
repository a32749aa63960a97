import { describe, expect, it } from 'vitest';
import { candidates, context, endpoint, NOW } from '../../testing.ts';
import { createInFlightScorer } from './in-flight.ts';

let next = 100;

describe('in-flight-scorer', () => {
  it.each([
    { name: 'counts only dispatches after the scrape', before: [3, 0], after: [0, 2], scores: [1, 0] },
    { name: 'equal → 1', before: [0, 0], after: [1, 1], scores: [1, 1] },
    { name: 'min-max over unreflected', before: [0, 0, 0], after: [0, 2, 4], scores: [1, 0.5, 0] },
  ])('$name', ({ before, after, scores }) => {
    const eps = before.map(() => endpoint(next++, {}, { scrapedAt: NOW - 20 }));
    const cands = candidates(eps);
    cands.forEach((c, i) => {
      for (let k = 0; k < before[i]!; k++) c.record.inFlight.dispatched(`b${i}-${k}`, NOW - 30);
      for (let k = 0; k < after[i]!; k++) c.record.inFlight.dispatched(`a${i}-${k}`, NOW - 10);
    });
    const ctx = context();
    const scorer = createInFlightScorer();
    scorer.prepare!(cands, ctx);
    ctx.kernel.scorerKind[0] = scorer.scorer;
    ctx.kernel.scorerWeight[0] = 1;
    ctx.kernel.scoreAndPick(cands.length, 1, 0, 0, 1, 0);
    expect(Array.from(ctx.kernel.scores.slice(0, cands.length))).toEqual(scores);
  });
});
