import { describe, expect, it } from 'vitest';
import { endpoint, scoresOf } from '../../testing.ts';
import { createRunningRequestsScorer } from './running-requests.ts';

describe('running-requests-scorer', () => {
  it.each([
    { running: [0, 8, 16], scores: [1, 0.5, 0] },
    { running: [4, 4], scores: [1, 1] },
    { running: [10, 2], scores: [0, 1] },
  ])('running $running → $scores', ({ running, scores }) => {
    expect(scoresOf(createRunningRequestsScorer(), running.map((r, i) => endpoint(i, { running: r })))).toEqual(scores);
  });
});
