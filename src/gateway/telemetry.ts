/**
 * What a gateway process tells operators, put together once its parts exist:
 * the scheduler's plugin timings and prefix-index size, passive-health
 * ejections, the pool gauges read from the endpoint source, build info, the
 * runtime's process metrics — one /metrics page — and the live dashboard fed
 * by a request observer.
 */
import { EmbeddedAgentSource } from '../agent/embedded-source.ts';
import { AgentMetrics } from '../agent/metrics.ts';
import type { DashboardSource } from '../dashboard/feed.ts';
import type { EndpointSource } from '../endpoints/types.ts';
import type { RoutingTableStore } from '../routing/store.ts';
import type { SaturationConfig } from '../scheduling/config.ts';
import type { LocalScheduling } from '../scheduling/local.ts';
import { gatewayDashboard } from './dashboard-source.ts';
import type { Gateway } from './gateway.ts';
import { poolMetrics, type BuildInfo } from './pool-metrics.ts';
import { observeScheduler, type ObservablePicker } from './scheduler-metrics.ts';

export interface Telemetry {
  /** The admin port's /metrics page. */
  metrics(): Promise<string>;
  dashboard?: DashboardSource;
  close(): void;
}

export interface TelemetryParts {
  gateway: Gateway;
  store: RoutingTableStore;
  endpoints: EndpointSource;
  scheduling?: LocalScheduling;
  /** The endpoint picker, when it can report its plugins' timings. */
  picker?: Partial<ObservablePicker> & { saturation?: SaturationConfig; inFlightCount?(pool: string, endpointId: string): number | undefined };
  buildInfo?: BuildInfo;
  /** The runtime's process metrics (CPU, memory, event loop), appended to the page. */
  processMetrics?: () => Promise<string>;
  /** Serve the dashboard (it is fed only while a page is open, beyond a histogram increment per request). */
  dashboard: boolean;
}

export const UNKNOWN_BUILD: BuildInfo = { commit: '', buildRef: '' };

export function gatewayTelemetry(parts: TelemetryParts): Telemetry {
  const { gateway, picker } = parts;
  if (picker?.observe && picker.prefixIndexSize) observeScheduler(gateway.metrics.registry, picker as ObservablePicker);
  if (parts.scheduling) gateway.metrics.countEjections(parts.scheduling.outliers.ejectionCounts);
  if (parts.scheduling?.flow) gateway.metrics.observeFlowControl(parts.scheduling.flow.controller, parts.scheduling.flow.isolation);
  // An agent inside the gateway reports its scrapes on the gateway's page.
  const agent = parts.endpoints instanceof EmbeddedAgentSource ? new AgentMetrics(parts.endpoints.agent) : undefined;
  const pools = poolMetrics({ pools: () => [...(parts.store.current?.pools.values() ?? [])], endpoints: parts.endpoints }, parts.buildInfo ?? UNKNOWN_BUILD);
  const dashboard = parts.dashboard
    ? gatewayDashboard({ store: parts.store, endpoints: parts.endpoints, saturation: picker?.saturation, inFlight: picker?.inFlightCount ? (p, id) => picker.inFlightCount!(p, id) : undefined })
    : undefined;
  if (dashboard) gateway.observers.add(dashboard.observer);
  return {
    metrics: async () => gateway.metrics.render() + pools.render() + (agent?.render() ?? '') + ((await parts.processMetrics?.()) ?? ''),
    dashboard: dashboard?.recorder,
    close: () => dashboard?.close(),
  };
}
