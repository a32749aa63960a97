/**
 * The agent's HTTP face: EndpointService (Connect, gRPC-Web; gRPC over h2c
 * when served with listenWithGrpc) plus health, its own Prometheus metrics
 * (./metrics.ts) and a JSON debug view.
 */
import { Hono } from 'hono';
import { mountConnect } from '../rpc/connect-mount.ts';
import type { MetricsAgent } from './agent.ts';
import { AgentMetrics } from './metrics.ts';
import { endpointServiceRoutes } from './service.ts';
import type { WatchOptions } from './watch.ts';
import type { KvEventsCollector } from '../kvevents/collector.ts';
import { kvIndexServiceRoutes, type KvEventsConvention } from './kv-index-service.ts';

export interface AgentApp {
  app: Hono;
  /** The Connect routes, for an HTTP/2 (plain gRPC) listener. */
  routes: ReturnType<typeof endpointServiceRoutes>;
}

/** With KV events on, the agent also serves KvIndexService. */
export interface AgentKvEvents {
  collector: KvEventsCollector;
  convention: KvEventsConvention;
}

export function createAgentApp(
  agent: MetricsAgent,
  options: WatchOptions & { notReadyReason?: () => string | undefined; kvEvents?: AgentKvEvents; processMetrics?: () => Promise<string> } = {},
): AgentApp {
  const metrics = new AgentMetrics(agent);
  const endpoints = endpointServiceRoutes(agent, { ...options, subscribed: () => metrics.subscribed() });
  const kv = options.kvEvents && kvIndexServiceRoutes(agent, options.kvEvents.collector, options.kvEvents.convention);
  const routes: ReturnType<typeof endpointServiceRoutes> = (router) => {
    endpoints(router);
    kv?.(router);
  };
  const app = new Hono();
  app.get('/healthz', (c) => c.text('ok'));
  app.get('/readyz', (c) => {
    const reason = options.notReadyReason?.();
    return reason ? c.text(`not ready: ${reason}`, 503) : c.text('ready');
  });
  app.get('/metrics', async () => new Response(metrics.render() + ((await options.processMetrics?.()) ?? ''), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }));
  app.get('/debug/endpoints', (c) => c.json({ endpoints: agent.endpoints, stats: agent.stats }));
  mountConnect(app, routes);
  return { app, routes };
}
