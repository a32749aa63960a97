/** Clients of a gateway's admin API, for `infergate apply` / `get` and tests. */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { RoutingService } from '../gen/infergate/v1/routing_pb.ts';
import { EndpointService } from '../gen/infergate/v1/endpoint_pb.ts';
import { sendBearer } from './auth.ts';

export const adminFlags = {
  server: { type: 'string', default: 'http://127.0.0.1:8081', help: "the gateway's admin URL" },
  token: { type: 'string', help: 'bearer token of the admin API' },
  'token-file': { type: 'string', help: 'file holding the bearer token' },
} as const;

export function adminClients(server: string, token: string | undefined) {
  const transport = createConnectTransport({ baseUrl: server, interceptors: token ? [sendBearer(token)] : [], useBinaryFormat: true });
  return { routing: createClient(RoutingService, transport), endpoints: createClient(EndpointService, transport) };
}
