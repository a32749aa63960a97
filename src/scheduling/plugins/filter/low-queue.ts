/** low-queue-filter: keep endpoints with at most `threshold` waiting requests (default 128, as GIE). */
import type { Candidate, FilterPlugin } from '../types.ts';

export interface LowQueueParameters {
  threshold?: number;
}

export function createLowQueueFilter(name = 'low-queue-filter', params: LowQueueParameters = {}): FilterPlugin {
  const threshold = params.threshold ?? 128;
  return {
    kind: 'filter',
    type: 'low-queue-filter',
    name,
    filter(candidates, ctx) {
      const kept: Candidate[] = [];
      for (const c of candidates) {
        if (c.metrics.waiting <= threshold) kept.push(c);
        else ctx.rejected?.push({ id: c.endpoint.id, by: name, reason: `waiting ${c.metrics.waiting} > ${threshold}` });
      }
      return kept;
    },
  };
}
