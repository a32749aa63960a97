/**
 * The control plane of a gateway whose data plane runs in other processes
 * (`--workers N`): the routing table (manifests or state dir, as a single
 * gateway loads it) with the admin API, the endpoint source (the embedded
 * agent scrapes once for every worker), and the internal API the workers
 * follow — RoutingService read-only and, with an embedded agent, its
 * EndpointService (and, with `kvEvents`, its KvIndexService: the workers keep
 * copies of the one KV index, as gateways of a remote agent do) — behind a
 * per-run bearer token.
 */
import { Hono } from 'hono';
import type { ConnectRouter } from '@connectrpc/connect';
import { endpointServiceRoutes } from '../agent/service.ts';
import { bearerAuth } from '../rpc/auth.ts';
import { mountConnect } from '../rpc/connect-mount.ts';
import { routingReadRoutes } from '../control/routing-service.ts';
import { EmbeddedAgentSource } from '../agent/embedded-source.ts';
import { AgentMetrics } from '../agent/metrics.ts';
import type { EndpointSource } from '../endpoints/types.ts';
import type { RoutingTableStore } from '../routing/store.ts';
import { adminApp, loadRoutingTable, openEndpointSource, type GatewayStartOptions, type RuntimeParts } from './assemble.ts';
import { gatewayDashboard } from './dashboard-source.ts';
import { relayedDashboard, type DashboardBatch, type DashboardWatch } from './dashboard-relay.ts';
import { poolMetrics } from './pool-metrics.ts';
import { UNKNOWN_BUILD } from './telemetry.ts';
import { KvEventsCollector } from '../kvevents/collector.ts';
import { kvIndexServiceRoutes } from '../agent/kv-index-service.ts';

export interface ControlPlaneOptions
  extends Pick<
    GatewayStartOptions,
    'manifests' | 'stateDir' | 'endpoints' | 'agent' | 'agentToken' | 'scrapeIntervalMs' | 'staleAfterMs' | 'adminPort' | 'adminHost' | 'host' | 'token' | 'log' | 'dashboard' | 'buildInfo' | 'kvEvents' | 'kvEventsPort' | 'kvEventsReplayPort' | 'kvEventsTopic'
  > {
  /** Bearer token of the internal API (random per run). */
  internalToken: string;
  /** The gateway metrics for the admin port's /metrics (the workers', merged); the pool gauges and process metrics are added here. */
  metrics(): Promise<string>;
  /** Tell the workers whether a dashboard page is open (they relay requests only then). */
  broadcastWatch?: (watch: DashboardWatch) => void;
  /** Data-plane workers, to share the explanation budget among them. */
  workers?: number;
}

export interface ControlPlane {
  store: RoutingTableStore;
  endpoints: EndpointSource;
  /** The API the workers call; `endpoints` tells whether it serves EndpointService (embedded agent) or they go to `agent`. */
  internal: { app: Hono; endpoints: boolean };
  admin?: { app: Hono; host: string };
  /** A worker's dashboard batch (the recorder takes it); a no-op without a dashboard. */
  dashboardBatch(batch: DashboardBatch): void;
  /** What a worker that starts now must be told. */
  dashboardWatch(): DashboardWatch;
  close(): Promise<void>;
}

export async function assembleControlPlane(options: ControlPlaneOptions, parts: Pick<RuntimeParts, 'files' | 'getter' | 'processMetrics' | 'kvEventsTransport'>): Promise<ControlPlane> {
  const log = options.log ?? ((line) => console.error(JSON.stringify(line)));
  const { store, persistence } = await loadRoutingTable(options, parts.files, log);
  const source = await openEndpointSource(options, parts, store, log);
  const { endpoints } = source;
  const agent = !options.agent && endpoints instanceof EmbeddedAgentSource ? endpoints.agent : undefined;

  const internal = new Hono();
  const routing = routingReadRoutes(store);
  const agentMetrics = agent && new AgentMetrics(agent);
  const endpointService = agent && endpointServiceRoutes(agent, { subscribed: () => agentMetrics!.subscribed() });
  // The pods' KV events are subscribed once, here; the workers follow the index like gateways of a remote agent.
  const collector = agent && options.kvEvents && parts.kvEventsTransport ? new KvEventsCollector({ transport: await parts.kvEventsTransport(), topic: options.kvEventsTopic ?? '', log }) : undefined;
  const kvIndexService = agent && collector && kvIndexServiceRoutes(agent, collector, { port: options.kvEventsPort ?? 5557, replayPort: options.kvEventsReplayPort || undefined });
  const routes = (router: ConnectRouter) => {
    routing(router);
    endpointService?.(router);
    kvIndexService?.(router);
  };
  mountConnect(internal, routes, { interceptors: [bearerAuth(options.internalToken)] });

  // The pool gauges and the process's own metrics are the primary's: the workers' would be counted N times.
  const pools = poolMetrics({ pools: () => [...(store.current?.pools.values() ?? [])], endpoints }, options.buildInfo ?? UNKNOWN_BUILD);
  const metrics = async () => (await options.metrics()) + pools.render() + (agentMetrics?.render() ?? '') + ((await parts.processMetrics?.()) ?? '');
  const withAdmin = options.adminPort !== undefined;
  const wired = withAdmin && options.dashboard !== false ? gatewayDashboard({ store, endpoints }) : undefined;
  const relay = wired && relayedDashboard(wired.recorder, (w) => options.broadcastWatch?.(w), () => options.workers ?? 1);
  const admin = withAdmin ? adminApp(options, { store, persistence, endpoints, log }, metrics, relay?.source) : undefined;
  return {
    store,
    endpoints,
    internal: { app: internal, endpoints: !!agent },
    admin,
    dashboardBatch: (batch) => relay?.apply(batch),
    dashboardWatch: () => relay?.watch() ?? { watching: false, explanationsPerSecond: 0 },
    close: async () => {
      wired?.close();
      await collector?.close();
      await source.close();
    },
  };
}
