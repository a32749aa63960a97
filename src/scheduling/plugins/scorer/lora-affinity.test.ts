import { describe, expect, it } from 'vitest';
import { endpoint, request, scoresOf } from '../../testing.ts';
import { createLoraAffinityScorer } from './lora-affinity.ts';

const full = { activeAdapters: ['x', 'y'], maxAdapters: 2 };

describe('lora-affinity-scorer (llm-d classes: a configuration file)', () => {
  it.each([
    { name: 'active 1.0, room 0.8, none 0', eps: [{ activeAdapters: ['a'] }, { activeAdapters: [] }, full], scores: [1, 0.8, 0] },
    { name: 'waiting 0.6 when full', eps: [{ ...full, waitingAdapters: ['a'] }, full], scores: [0.6, 0] },
    { name: 'room beats waiting', eps: [{ activeAdapters: ['x'], waitingAdapters: ['a'] }], scores: [0.8] },
    { name: 'room counts waiting adapters: active + waiting < max', eps: [{ activeAdapters: ['b'], waitingAdapters: ['c'], maxAdapters: 2 }, { activeAdapters: ['b', 'c'], waitingAdapters: ['a'], maxAdapters: 2 }], scores: [0, 0.6] },
    { name: 'an unknown max (0) is never room', eps: [{ activeAdapters: ['b'], maxAdapters: 0 }, { activeAdapters: ['b'], waitingAdapters: ['a'], maxAdapters: 0 }], scores: [0, 0.6] },
  ])('$name', ({ eps, scores }) => {
    const got = scoresOf(createLoraAffinityScorer(), eps.map((m, i) => endpoint(i, m)), request({ targetModel: 'a' }));
    expect(got).toEqual(scores);
  });

  it('scores a base-model request by the same classes: 0.8 where a slot is free, 0 where full', () => {
    const got = scoresOf(createLoraAffinityScorer(), [endpoint(0, full), endpoint(1, { activeAdapters: [], maxAdapters: 2 })], request({ targetModel: 'base' }));
    expect(got).toEqual([0, 0.8]);
  });

  it('is neutral for the models baseModels names, and scores the others by the classes', () => {
    const scorer = createLoraAffinityScorer('l', { baseModels: ['base'] });
    expect(scoresOf(scorer, [endpoint(0, full), endpoint(1)], request({ targetModel: 'base' }))).toEqual([1, 1]);
    expect(scoresOf(scorer, [endpoint(0, full), endpoint(1)], request({ targetModel: 'new-adapter' }))).toEqual([0, 0.8]);
  });
});

describe("lora-affinity-scorer (infergate's classes: the built-in profiles)", () => {
  const builtIn = (baseModels?: string[]) => createLoraAffinityScorer('l', { builtInClasses: true, ...(baseModels ? { baseModels } : {}) });

  it.each([
    { name: 'active 1.0, room 0.8, none 0', eps: [{ activeAdapters: ['a'] }, { activeAdapters: [] }, full], scores: [1, 0.8, 0] },
    { name: 'waiting 0.6 when full', eps: [{ ...full, waitingAdapters: ['a'] }, full], scores: [0.6, 0] },
    { name: 'room is active < max (waiting not counted)', eps: [{ activeAdapters: ['b'], waitingAdapters: ['c'], maxAdapters: 2 }, { ...full, waitingAdapters: ['a'] }], scores: [0.8, 0.6] },
    { name: 'unknown max counts as room', eps: [{ ...full, maxAdapters: 0, waitingAdapters: ['a'] }], scores: [0.8] },
  ])('$name', ({ eps, scores }) => {
    expect(scoresOf(builtIn(), eps.map((m, i) => endpoint(i, m)), request({ targetModel: 'a' }))).toEqual(scores);
  });

  it('is neutral for a model no endpoint lists (the base model)', () => {
    expect(scoresOf(builtIn(), [endpoint(0, full), endpoint(1)], request({ targetModel: 'base' }))).toEqual([1, 1]);
  });

  it('treats models outside baseModels as adapters', () => {
    expect(scoresOf(builtIn(['base']), [endpoint(0, full), endpoint(1)], request({ targetModel: 'new-adapter' }))).toEqual([0, 0.8]);
    expect(scoresOf(builtIn(['base']), [endpoint(0, full), endpoint(1)], request({ targetModel: 'base' }))).toEqual([1, 1]);
  });
});
