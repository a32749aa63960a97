/** fresh-metrics-filter: keep endpoints whose metrics are at most `maxAge` ms old (default 2000). */
import type { Candidate, FilterPlugin } from '../types.ts';

export interface FreshMetricsParameters {
  maxAge?: number;
}

export const DEFAULT_MAX_METRICS_AGE_MS = 2000;

export function createFreshMetricsFilter(name = 'fresh-metrics-filter', params: FreshMetricsParameters = {}): FilterPlugin {
  const maxAge = params.maxAge ?? DEFAULT_MAX_METRICS_AGE_MS;
  return {
    kind: 'filter',
    type: 'fresh-metrics-filter',
    name,
    filter(candidates, ctx) {
      // Usually every endpoint is fresh: then keep the input as is, without copying it.
      let stale = 0;
      while (stale < candidates.length && candidates[stale]!.ageMs <= maxAge) stale++;
      if (stale === candidates.length) return candidates;
      const kept: Candidate[] = [];
      for (const c of candidates) {
        if (c.ageMs <= maxAge) kept.push(c);
        else ctx.rejected?.push({ id: c.endpoint.id, by: name, reason: `metrics ${Math.round(c.ageMs)} ms old > ${maxAge}` });
      }
      return kept;
    },
  };
}
