import { describe, expect, it } from 'vitest';
import { endpoint, scoresOf } from '../../testing.ts';
import { createKvCacheScorer } from './kv-cache.ts';

describe('kv-cache-utilization-scorer', () => {
  it.each([
    { kv: [0, 0.25, 1], scores: [1, 0.75, 0] },
    { kv: [1.5], scores: [0] },
    { kv: [-1], scores: [1] },
  ])('usage $kv → $scores', ({ kv, scores }) => {
    expect(scoresOf(createKvCacheScorer(), kv.map((u, i) => endpoint(i, { kvUsage: u })))).toEqual(scores);
  });
});
