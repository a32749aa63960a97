import { describe, expect, it } from 'vitest';
import { endpoint, scoresOf } from '../../testing.ts';
import { createQueueScorer } from './queue.ts';

describe('queue-scorer', () => {
  it.each([
    { waiting: [0, 5, 10], scores: [1, 0.5, 0] },
    { waiting: [3, 3, 3], scores: [1, 1, 1] },
    { waiting: [7], scores: [1] },
    { waiting: [2, 0], scores: [0, 1] },
    { waiting: [Number.NaN, 4], scores: [1, 0] },
  ])('waiting $waiting → $scores', ({ waiting, scores }) => {
    expect(scoresOf(createQueueScorer(), waiting.map((w, i) => endpoint(i, { waiting: w })))).toEqual(scores);
  });
});
