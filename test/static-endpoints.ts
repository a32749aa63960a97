/**
 * A test double of an endpoint source: fixed endpoints, every one ready, no
 * metrics (the picker then routes FailOpen pools by in-flight counts).
 */
import { selectEndpoints, type EndpointEntry } from '../src/endpoints/file-schema.ts';
import type { EndpointSource, PoolRef, PoolSnapshot } from '../src/endpoints/types.ts';

export function staticEndpoints(entries: EndpointEntry[]): EndpointSource {
  return {
    snapshot: (pool: PoolRef): PoolSnapshot => ({
      pool: pool.name,
      endpoints: selectEndpoints(entries, pool).map((e) => ({ ...e, id: `${e.address}:${e.port}`, ready: true })),
      at: Date.now(),
      hasMetrics: false,
    }),
    notReadyReason: () => (entries.length ? undefined : 'no endpoints'),
    close: () => {},
  };
}
