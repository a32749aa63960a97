import { describe, expect, it } from 'vitest';
import type { EndpointMetrics } from '../../../endpoints/types.ts';
import { candidates, context, endpoint, NOW, request } from '../../testing.ts';
import type { FilterPlugin } from '../types.ts';
import { createFreshMetricsFilter } from './fresh-metrics.ts';
import { createLeastKvCacheFilter, createLeastQueueFilter } from './least-queue.ts';
import { createLoraAffinityFilter } from './lora-affinity.ts';
import { createLowQueueFilter } from './low-queue.ts';

function kept(filter: FilterPlugin, metrics: Array<Partial<EndpointMetrics>>, target = 'base', ages?: number[]): number[] {
  const eps = metrics.map((m, i) => endpoint(i, m, ages ? { scrapedAt: NOW - ages[i]! } : {}));
  const ctx = context(request({ targetModel: target }));
  const out = filter.filter(candidates(eps), ctx);
  // Every dropped endpoint is explained.
  expect(ctx.rejected!.length).toBe(eps.length - out.length);
  return out.map((c) => eps.indexOf(c.endpoint));
}

const full = { activeAdapters: ['x', 'y'], maxAdapters: 2 };

describe('filters', () => {
  it.each([
    { name: 'least-queue keeps the lowest 1/n of the range', f: createLeastQueueFilter(), m: [{ waiting: 0 }, { waiting: 3 }, { waiting: 9 }], keep: [0, 1] },
    { name: 'least-queue all equal keeps all', f: createLeastQueueFilter(), m: [{ waiting: 2 }, { waiting: 2 }], keep: [0, 1] },
    { name: 'least-kv-cache', f: createLeastKvCacheFilter(), m: [{ kvUsage: 0.9 }, { kvUsage: 0.1 }, { kvUsage: 0.5 }], keep: [1] },
    { name: 'low-queue default 128', f: createLowQueueFilter(), m: [{ waiting: 128 }, { waiting: 129 }], keep: [0] },
    { name: 'low-queue threshold', f: createLowQueueFilter('lq', { threshold: 2 }), m: [{ waiting: 1 }, { waiting: 3 }, { waiting: 2 }], keep: [0, 2] },
    { name: 'lora-affinity keeps active', f: createLoraAffinityFilter(), m: [{}, { activeAdapters: ['a'] }, full], t: 'a', keep: [1] },
    { name: 'lora-affinity else room to load', f: createLoraAffinityFilter(), m: [{ ...full, waitingAdapters: ['a'] }, {}, full], t: 'a', keep: [1] },
    { name: 'lora-affinity else waiting', f: createLoraAffinityFilter(), m: [{ ...full, waitingAdapters: ['a'] }, full], t: 'a', keep: [0] },
    { name: 'lora-affinity ignores the base model', f: createLoraAffinityFilter(), m: [full, {}], t: 'base', keep: [0, 1] },
  ])('$name', ({ f, m, t, keep }) => {
    expect(kept(f, m, t)).toEqual(keep);
  });

  it.each([
    { maxAge: undefined, ages: [10, 1999, 2001, 5000], keep: [0, 1] },
    { maxAge: 100, ages: [10, 150], keep: [0] },
  ])('fresh-metrics maxAge $maxAge', ({ maxAge, ages, keep }) => {
    expect(kept(createFreshMetricsFilter('fresh', maxAge === undefined ? {} : { maxAge }), ages.map(() => ({})), 'base', ages)).toEqual(keep);
  });
});
