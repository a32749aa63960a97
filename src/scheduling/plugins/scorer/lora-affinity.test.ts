import { describe, expect, it } from 'vitest';
import { endpoint, request, scoresOf } from '../../testing.ts';
import { createLoraAffinityScorer } from './lora-affinity.ts';

const full = { activeAdapters: ['x', 'y'], maxAdapters: 2 };

describe('lora-affinity-scorer', () => {
  it.each([
    { name: 'active 1.0, room 0.8, none 0', eps: [{ activeAdapters: ['a'] }, { activeAdapters: [] }, full], scores: [1, 0.8, 0] },
    { name: 'waiting 0.6 when full', eps: [{ ...full, waitingAdapters: ['a'] }, full], scores: [0.6, 0] },
    { name: 'room beats waiting', eps: [{ activeAdapters: ['x'], waitingAdapters: ['a'] }], scores: [0.8] },
    { name: 'unknown max counts as room', eps: [{ ...full, maxAdapters: 0, waitingAdapters: ['a'] }], scores: [0.8] },
  ])('$name', ({ eps, scores }) => {
    const got = scoresOf(createLoraAffinityScorer(), eps.map((m, i) => endpoint(i, m)), request({ targetModel: 'a' }));
    expect(got).toEqual(scores);
  });

  it('is neutral for a model no endpoint lists (the base model)', () => {
    const got = scoresOf(createLoraAffinityScorer(), [endpoint(0, full), endpoint(1)], request({ targetModel: 'base' }));
    expect(got).toEqual([1, 1]);
  });

  it('treats models outside baseModels as adapters', () => {
    const scorer = createLoraAffinityScorer('l', { baseModels: ['base'] });
    expect(scoresOf(scorer, [endpoint(0, full), endpoint(1)], request({ targetModel: 'new-adapter' }))).toEqual([0, 0.8]);
    expect(scoresOf(scorer, [endpoint(0, full), endpoint(1)], request({ targetModel: 'base' }))).toEqual([1, 1]);
  });
});
