/**
 * Saturation: how full a pool is, to refuse low-priority work before
 * everyone's latency explodes. Per endpoint max(waiting / queueDepth,
 * kvUsage / kvThreshold), 1 when its metrics are missing or stale (we cannot
 * tell, so assume the worst); the pool's saturation is the mean.
 */
import type { Endpoint } from '../endpoints/types.ts';
import type { SaturationConfig } from './config.ts';
import type { SchedulingRequest } from './scheduler.ts';

export function endpointSaturation(endpoint: Endpoint, now: number, config: SaturationConfig): number {
  const m = endpoint.metrics;
  if (m === undefined || endpoint.scrapedAt === undefined || now - endpoint.scrapedAt > config.metricsStalenessThreshold) return 1;
  const queue = config.queueDepthThreshold > 0 ? m.waiting / config.queueDepthThreshold : m.waiting > 0 ? Infinity : 0;
  const kv = config.kvCacheUtilThreshold > 0 ? m.kvUsage / config.kvCacheUtilThreshold : m.kvUsage > 0 ? Infinity : 0;
  const s = Math.max(queue, kv);
  return Number.isNaN(s) ? 1 : s;
}

/** Mean saturation of the endpoints (1 for none). */
export function poolSaturation(endpoints: readonly Endpoint[], now: number, config: SaturationConfig): number {
  if (endpoints.length === 0) return 1;
  let sum = 0;
  for (const e of endpoints) sum += endpointSaturation(e, now, config);
  return sum / endpoints.length;
}

/**
 * Sheddable requests may be refused at a saturated pool: criticality
 * Sheddable, or a negative priority when no criticality says otherwise.
 * Critical and Standard requests are never shed (the data path derives
 * criticality from an objective's priority: < 0 → Sheddable).
 */
export function isSheddable(request: Pick<SchedulingRequest, 'criticality' | 'priority'>): boolean {
  const c = request.criticality as string | undefined;
  if (c === 'Critical' || c === 'Standard') return false;
  return c === 'Sheddable' || request.priority < 0;
}
