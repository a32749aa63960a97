/**
 * The agent's HTTP face: EndpointService (Connect, gRPC-Web; gRPC over h2c
 * when served with listenWithGrpc) plus health, its own Prometheus metrics
 * (./metrics.ts) and a JSON debug view.
 *
 * With a token, what names the pods (EndpointService, KvIndexService,
 * /debug/*: addresses, labels, metrics) needs `Authorization: Bearer <token>`,
 * checked as the gateway's admin API checks its own (src/rpc/auth.ts);
 * /healthz, /readyz (kubelet probes) and /metrics (the Prometheus scrape, open
 * on the gateway's admin port too) stay open.
 */
import { Hono } from 'hono';
import type { ConnectRouter, Interceptor } from '@connectrpc/connect';
import { bearerAuth, bearerMatches } from '../rpc/auth.ts';
import { mountConnect, type ConnectRoutes } from '../rpc/connect-mount.ts';
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
  options: WatchOptions & { notReadyReason?: () => string | undefined; kvEvents?: AgentKvEvents; processMetrics?: () => Promise<string>; token?: string } = {},
): AgentApp {
  const metrics = new AgentMetrics(agent);
  const endpoints = endpointServiceRoutes(agent, { ...options, subscribed: () => metrics.subscribed() });
  const kv = options.kvEvents && kvIndexServiceRoutes(agent, options.kvEvents.collector, options.kvEvents.convention);
  const routes = withInterceptors((router) => {
    endpoints(router);
    kv?.(router);
  }, options.token ? [bearerAuth(options.token)] : []);
  const app = new Hono();
  const token = options.token;
  if (token) {
    app.use('/debug/*', async function requireAgentToken(c, next) {
      if (!bearerMatches(c.req.header('authorization'), token)) return c.json({ error: { message: 'missing or wrong bearer token: send the agent\'s --token (the gateway: --agent-token)', type: 'authentication_error', code: 'unauthenticated' } }, 401, { 'www-authenticate': 'Bearer' });
      return next();
    });
  }
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

/**
 * `routes` with `interceptors` on every service it registers. The check travels with the routes
 * rather than with one router's options: listenWithGrpc hands the same routes to its h2c (plain gRPC)
 * listener, which takes no router options.
 */
function withInterceptors(routes: ConnectRoutes, interceptors: Interceptor[]): ConnectRoutes {
  if (interceptors.length === 0) return routes;
  const merged = (options?: { interceptors?: Interceptor[] }) => ({ ...options, interceptors: [...interceptors, ...(options?.interceptors ?? [])] });
  return (router) => {
    const guarded: ConnectRouter = {
      get handlers() {
        return router.handlers;
      },
      service(service, implementation, options) {
        router.service(service, implementation, merged(options));
        return guarded;
      },
      rpc(method, impl, options) {
        router.rpc(method, impl, merged(options));
        return guarded;
      },
    };
    routes(guarded);
  };
}
