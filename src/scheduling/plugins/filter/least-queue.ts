/**
 * least-queue-filter and least-kv-cache-filter (GIE semantics): keep the
 * endpoints within the lowest 1/n-th of the observed range,
 * value ≤ min + (max − min) / n.
 */
import type { Candidate, FilterPlugin } from '../types.ts';

function leastBy(type: string, name: string, value: (c: Candidate) => number, label: string): FilterPlugin {
  return {
    kind: 'filter',
    type,
    name,
    filter(candidates, ctx) {
      if (candidates.length === 0) return candidates;
      let lo = Infinity, hi = -Infinity;
      for (const c of candidates) {
        const v = value(c);
        if (v < lo) lo = v;
        if (v > hi) hi = v;
      }
      const limit = lo + (hi - lo) / candidates.length;
      const kept: Candidate[] = [];
      for (const c of candidates) {
        if (value(c) <= limit) kept.push(c);
        else ctx.rejected?.push({ id: c.endpoint.id, by: name, reason: `${label} ${value(c)} > ${+limit.toFixed(4)}` });
      }
      return kept;
    },
  };
}

export function createLeastQueueFilter(name = 'least-queue-filter'): FilterPlugin {
  return leastBy('least-queue-filter', name, (c) => c.metrics.waiting, 'waiting');
}

export function createLeastKvCacheFilter(name = 'least-kv-cache-filter'): FilterPlugin {
  return leastBy('least-kv-cache-filter', name, (c) => c.metrics.kvUsage, 'kv usage');
}
