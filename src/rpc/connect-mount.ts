/**
 * Mount a Connect router inside a Hono app the way connect-es adapters do:
 * createConnectRouter → router.handlers → universalServerRequestFromFetch /
 * universalServerResponseToFetch. Web-standard only, so the same app runs on
 * Node, Deno and Workers. Connect and gRPC-Web work over HTTP/1.1 here; plain
 * gRPC needs HTTP/2 trailers (see listenWithGrpc in src/runtime/node/listen.ts).
 */
import type { Hono } from 'hono';
import { createConnectRouter, type ConnectRouter, type ConnectRouterOptions } from '@connectrpc/connect';
import { universalServerRequestFromFetch, universalServerResponseToFetch } from '@connectrpc/connect/protocol';

export type ConnectRoutes = (router: ConnectRouter) => void;

/** A fetch handler for the router's RPCs; undefined for any other path. */
export function connectFetchHandler(routes: ConnectRoutes, options: ConnectRouterOptions = {}) {
  const router = createConnectRouter(options);
  routes(router);
  const byPath = new Map(router.handlers.map((h) => [h.requestPath, h]));
  return async function handleConnect(request: Request): Promise<Response | undefined> {
    const path = new URL(request.url).pathname;
    const handler = byPath.get(path);
    if (!handler) return undefined;
    const response = await handler(universalServerRequestFromFetch(request, {}));
    return universalServerResponseToFetch(response);
  };
}

/**
 * Serve the router's services from `app` (every `/<package.Service>/<Method>` path).
 *
 * @example
 * const app = new Hono();
 * mountConnect(app, (router) => router.service(RoutingService, impl));
 */
export function mountConnect(app: Hono, routes: ConnectRoutes, options: ConnectRouterOptions = {}): void {
  const handle = connectFetchHandler(routes, options);
  const services = new Set<string>();
  const probe = createConnectRouter(options);
  routes(probe);
  for (const h of probe.handlers) services.add(h.service.typeName);
  for (const service of services) {
    app.all(`/${service}/*`, async (c) => (await handle(c.req.raw)) ?? c.json({ code: 'unimplemented', message: `no such method: ${c.req.path}` }, 404));
  }
}
