/**
 * The gateway's admin API: RoutingService (apply/get/watch the routing
 * table) and EndpointService.GetEndpoints (what the gateway sees of a pool),
 * over Connect and gRPC-Web, behind a bearer token when one is configured.
 */
import { Hono } from 'hono';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type Interceptor } from '@connectrpc/connect';
import { EndpointService, GetEndpointsResponseSchema } from '../gen/infergate/v1/endpoint_pb.ts';
import type { EndpointSource } from '../endpoints/types.ts';
import { protocolFromWire, toWireSnapshot } from '../endpoints/wire.ts';
import type { RoutingTableStore } from '../routing/store.ts';
import { bearerAuth } from '../rpc/auth.ts';
import { mountConnect } from '../rpc/connect-mount.ts';
import type { TablePersistence } from './persistence.ts';
import { routingServiceRoutes } from './routing-service.ts';

export interface AdminOptions {
  store: RoutingTableStore;
  /** Required bearer token; without one, listen on loopback only (see adminListenHost). */
  token?: string;
  persistence?: TablePersistence;
  endpointSource?: EndpointSource;
  log?: (line: Record<string, unknown>) => void;
  /** Refuse Apply with this reason (the table comes from the Kubernetes API). */
  readOnly?: string;
}

/**
 * @example
 * const admin = createAdminApp({ store, token, persistence: stateDirPersistence(dir, files) });
 * admin.get('/healthz', (c) => c.text('ok')); // the caller adds its own routes
 * await listen(admin.fetch, 8081, adminListenHost(token, host));
 */
export function createAdminApp(options: AdminOptions): Hono {
  const app = new Hono();
  const interceptors: Interceptor[] = options.token ? [bearerAuth(options.token)] : [];
  const routing = routingServiceRoutes(options);
  const routes = (router: ConnectRouter) => {
    routing(router);
    const source = options.endpointSource;
    router.service(EndpointService, {
      getEndpoints(req) {
        if (!source) throw new ConnectError('this gateway has no endpoint source', Code.Unimplemented);
        const snap = source.snapshot({ name: req.pool || '(query)', selector: req.selector, targetPorts: req.targetPorts, appProtocol: protocolFromWire(req.appProtocol) });
        return create(GetEndpointsResponseSchema, { snapshot: toWireSnapshot(snap.endpoints, snap.at, 0) });
      },
    });
  };
  mountConnect(app, routes, { interceptors });
  return app;
}

export { adminListenHost, bearerAuth, constantTimeEqual, sendBearer } from '../rpc/auth.ts';
export { stateDirPersistence, restoreTable, type TablePersistence } from './persistence.ts';
export { tableFromWire, tableToWire } from './table-wire.ts';
