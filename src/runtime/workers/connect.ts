/**
 * Connect clients over the Workers `fetch`: EndpointService (the agent) and
 * RoutingService (a control-plane gateway). connect-web passes browser-only
 * RequestInit fields (mode, credentials, redirect: "error") that workerd
 * rejects, so only the fields a Worker understands are forwarded.
 */
import { createClient, type Client, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { EndpointService } from '../../gen/infergate/v1/endpoint_pb.ts';
import { RoutingService } from '../../gen/infergate/v1/routing_pb.ts';
import { sendBearer } from '../../rpc/auth.ts';

export const workerFetch: typeof fetch = (input, init) =>
  fetch(input, { method: init?.method, headers: init?.headers, body: init?.body, signal: init?.signal ?? null });

export function transport(baseUrl: string, token?: string) {
  const interceptors: Interceptor[] = token ? [sendBearer(token)] : [];
  return createConnectTransport({ baseUrl, useBinaryFormat: true, fetch: workerFetch, interceptors });
}

export function agentClient(agentUrl: string, token?: string): Client<typeof EndpointService> {
  return createClient(EndpointService, transport(agentUrl, token));
}

export function controlPlaneClient(adminUrl: string, token: string | undefined): Client<typeof RoutingService> {
  return createClient(RoutingService, transport(adminUrl, token));
}
