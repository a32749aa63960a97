/**
 * From the gateway's own types to the feed's views: a pool's snapshot to a
 * PoolView, the active routing table to a RoutingView. Pure functions, so the
 * gateway's DashboardSource only gathers its inputs.
 */
import type { Endpoint, PoolSnapshot } from '../endpoints/types.ts';
import type { Pool, RoutingTable } from '../routing/schema.ts';
import type { Condition, PodView, PoolView, RoutingObjectView, RoutingView } from './feed.ts';

export interface PodExtras {
  /** The gateway's dispatches to this endpoint not yet finished. */
  inFlight?: number;
  /** The endpoint is leaving the pool (its Pod is terminating). */
  draining?: boolean;
}

export function podView(endpoint: Endpoint, now: number, extras: PodExtras = {}): PodView {
  const m = endpoint.metrics;
  const view: PodView = {
    id: endpoint.id,
    engine: endpoint.engine,
    ready: endpoint.ready,
    draining: extras.draining ?? false,
    waiting: nonNegativeInt(m?.waiting),
    running: nonNegativeInt(m?.running),
    kvUsage: Math.min(1, Math.max(0, Number.isFinite(m?.kvUsage) ? m!.kvUsage : 0)),
    activeAdapters: m?.activeAdapters ?? [],
    waitingAdapters: m?.waitingAdapters ?? [],
    metricAgeMs: endpoint.scrapedAt === undefined ? null : Math.max(0, Math.round(now - endpoint.scrapedAt)),
  };
  if (m?.maxAdapters) view.maxAdapters = nonNegativeInt(m.maxAdapters);
  if (extras.inFlight !== undefined) view.inFlight = nonNegativeInt(extras.inFlight);
  if (endpoint.lastError) view.lastError = endpoint.lastError;
  return view;
}

/**
 * @example
 * poolView(pool, endpoints.snapshot(pool), Date.now(), {
 *   saturation: poolSaturation(snap.endpoints, now, config.saturation),
 *   pod: (e) => ({ inFlight: inFlight.get(e.id) }),
 * });
 */
export function poolView(
  pool: Pool,
  snapshot: PoolSnapshot,
  now: number,
  options: { saturation?: number; pod?: (endpoint: Endpoint) => PodExtras } = {},
): PoolView {
  const view: PoolView = {
    name: pool.name,
    failureMode: pool.failureMode,
    pods: snapshot.endpoints.map((e) => podView(e, now, options.pod?.(e))),
  };
  if (pool.profile !== undefined) view.profile = pool.profile;
  // Saturation is Infinity when a threshold is 0 and there is load; JSON cannot carry it.
  if (options.saturation !== undefined && Number.isFinite(options.saturation)) view.saturation = Math.round(options.saturation * 1e4) / 1e4;
  return view;
}

/**
 * The objects of the active table with their conditions. `conditions` (keyed
 * `Kind/name`) are the ones an importer or the Kubernetes status writer
 * reported; objects without any are in the active table, which is accepted
 * whole and only when every reference resolves (src/routing/validate.ts), so
 * they get Accepted and, where they refer to a pool, ResolvedRefs.
 */
export function routingView(table: RoutingTable | undefined, conditions?: ReadonlyMap<string, Condition[]>): RoutingView {
  if (!table) return { version: 0, objects: [] };
  const inTable = (refers: boolean): Condition[] => {
    const message = `in the active routing table, version ${table.version}`;
    const list: Condition[] = [{ type: 'Accepted', status: 'True', reason: 'Accepted', message }];
    if (refers) list.push({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'every referenced pool exists' });
    return list;
  };
  const object = (kind: string, name: string, summary: string, refers: boolean): RoutingObjectView => ({
    kind,
    name,
    summary,
    conditions: conditions?.get(`${kind}/${name}`) ?? inTable(refers),
  });
  return {
    version: table.version,
    objects: [
      ...table.routes.map((r) => object('Route', r.name, routeSummary(r), true)),
      ...table.pools.map((p) => object('Pool', p.name, `selector ${labels(p.selector)}, ports ${p.targetPorts.join(',')}${p.appProtocol === 'h2c' ? ' (h2c)' : ''}, ${p.failureMode}${p.profile ? `, profile ${p.profile}` : ''}`, false)),
      ...table.models.map((m) => object('Model', m.name, modelSummary(m), true)),
      ...table.objectives.map((o) => object('Objective', o.name, `priority ${o.priority} on pool ${o.pool}`, true)),
    ],
  };
}

function routeSummary(route: RoutingTable['routes'][number]): string {
  return route.rules
    .map((rule) => {
      const matches = rule.matches.map((m) => `${m.path.type === 'Exact' ? '=' : ''}${m.path.value}${m.headers.map((h) => ` ${h.name}${h.type === 'Exact' ? '=' : '~'}${h.value}`).join('')}`);
      return `${matches.join(' | ')} → ${rule.backendRefs.map((b) => `${b.pool} ×${b.weight}`).join(', ')}`;
    })
    .join('; ');
}

function modelSummary(model: RoutingTable['models'][number]): string {
  const targets = model.targetModels.length ? ` → ${model.targetModels.map((t) => `${t.name} ×${t.weight}`).join(', ')}` : '';
  const priority = model.priority !== undefined ? `, priority ${model.priority}` : '';
  return `pool ${model.pool}, ${model.criticality}${priority}${targets}`;
}

function labels(selector: Record<string, string>): string {
  const list = Object.entries(selector).map(([k, v]) => `${k}=${v}`);
  return list.length ? list.join(',') : '(all)';
}

function nonNegativeInt(x: number | undefined): number {
  return x !== undefined && Number.isFinite(x) && x > 0 ? Math.round(x) : 0;
}
