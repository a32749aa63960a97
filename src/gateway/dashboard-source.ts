/**
 * The dashboard wired to the gateway: a DashboardRecorder whose pools are the
 * active table's pools as the endpoint source sees them (with the shedder's
 * saturation and this gateway's in-flight counts), whose routing view is the
 * active table, and a request observer that feeds it — each request's end,
 * and each decision, explained for a sample of requests while a page is open
 * (the recorder's budget; the `x-infergate-decision` header still goes only
 * to a client that asked for it).
 */
import { DashboardRecorder } from '../dashboard/recorder.ts';
import type { DecisionView, Explanation, PoolView } from '../dashboard/feed.ts';
import { poolView, routingView } from '../dashboard/views.ts';
import type { EndpointSource } from '../endpoints/types.ts';
import type { ObservedRequest, RequestObserver } from '../proxy/observer.ts';
import type { RoutingTableStore } from '../routing/store.ts';
import type { SaturationConfig } from '../scheduling/config.ts';
import { poolSaturation } from '../scheduling/saturation.ts';

export interface DashboardWiring {
  store: RoutingTableStore;
  endpoints: Pick<EndpointSource, 'snapshot'>;
  /** The shedder's settings, to show saturation as it computes it. */
  saturation?: SaturationConfig;
  /** This gateway's in-flight requests per endpoint, when it counts them. */
  inFlight?: (pool: string, endpointId: string) => number | undefined;
  now?: () => number;
  tickMs?: number;
}

export function gatewayDashboard(w: DashboardWiring): { recorder: DashboardRecorder; observer: RequestObserver; close(): void } {
  const now = w.now ?? Date.now;
  const pools = (): PoolView[] => {
    const table = w.store.current;
    if (!table) return [];
    const at = now();
    return [...table.pools.values()].map((pool) => {
      const snapshot = w.endpoints.snapshot(pool);
      const ready = snapshot.endpoints.filter((e) => e.ready);
      return poolView(pool, snapshot, at, {
        saturation: w.saturation && ready.length ? poolSaturation(ready, at, w.saturation) : undefined,
        pod: w.inFlight ? (e) => ({ inFlight: w.inFlight!(pool.name, e.id) ?? 0 }) : undefined,
      });
    });
  };
  const recorder = new DashboardRecorder({ pools, routing: () => routingView(w.store.current?.source), now, tickMs: w.tickMs });
  const unsubscribe = w.store.subscribe(() => recorder.routingChanged());
  return { recorder, observer: dashboardObserver(recorder), close: () => (unsubscribe(), recorder.close()) };
}

/** What the recorder hears of each request. */
export function dashboardObserver(recorder: Pick<DashboardRecorder, 'wantsExplanation' | 'decision' | 'record'>): RequestObserver {
  return {
    resolved(r) {
      if (!r.clientExplain && recorder.wantsExplanation()) r.explain = true;
    },
    decided(r) {
      recorder.decision(decisionView(r));
    },
    finished(r) {
      recorder.record({
        status: r.status,
        durationMs: r.finishedAt - r.receivedAt,
        ...(r.firstTokenAt ? { ttftMs: r.firstTokenAt - r.receivedAt } : {}),
        ...(r.decision === 'shed' ? { shed: true } : {}),
        ...(r.queuedAt ? { queued: true } : {}),
      });
    },
  };
}

export function decisionView(r: ObservedRequest): Omit<DecisionView, 'seq'> {
  const view: Omit<DecisionView, 'seq'> = {
    at: Math.round(r.startedAtMs + (r.decidedAt - r.receivedAt)),
    requestId: r.requestId,
    model: r.model ?? '',
    pool: r.pool?.name ?? '',
    outcome: r.decision ?? 'unavailable',
  };
  if (r.targetModel !== undefined && r.targetModel !== r.model) view.targetModel = r.targetModel;
  if (r.objective) view.objective = r.objective;
  if (r.decision === 'route' && r.endpoint) view.endpoint = r.endpoint.id;
  if (r.decisionReason) view.reason = r.decisionReason;
  if (r.explanation) view.explanation = r.explanation as Explanation;
  return view;
}
