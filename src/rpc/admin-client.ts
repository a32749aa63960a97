/** Clients of a gateway's admin API, for `infergate apply` / `get` and tests. */
import { Code, ConnectError, createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { RoutingService } from '../gen/infergate/v1/routing_pb.ts';
import { EndpointService } from '../gen/infergate/v1/endpoint_pb.ts';
import { sendBearer } from './auth.ts';

export const adminFlags = {
  server: { type: 'string', default: 'http://127.0.0.1:8081', help: "the gateway's admin URL" },
  token: { type: 'string', help: 'bearer token of the admin API' },
  'token-file': { type: 'string', help: 'file holding the bearer token' },
} as const;

/** How long a command waits for the admin API's answer: a server that accepts and never answers is not waited on for minutes. */
export const ADMIN_TIMEOUT_MS = 30_000;

export function adminClients(server: string, token: string | undefined, timeoutMs = ADMIN_TIMEOUT_MS) {
  const transport = createConnectTransport({ baseUrl: server, interceptors: token ? [sendBearer(token)] : [], useBinaryFormat: true, defaultTimeoutMs: timeoutMs });
  return { routing: createClient(RoutingService, transport), endpoints: createClient(EndpointService, transport) };
}

/** A failed admin call, said for the person at the command line: what was tried, what happened, what to check. */
export function adminError(server: string, err: unknown): string {
  const e = ConnectError.from(err);
  if (e.code === Code.Unauthenticated || e.code === Code.FailedPrecondition) return e.rawMessage;
  if (e.code === Code.DeadlineExceeded) return `${server}: no answer from the admin API in ${ADMIN_TIMEOUT_MS / 1000} s (is --server the gateway's admin port?)`;
  if (e.code === Code.Unknown && /fetch failed|ECONNREFUSED|network/i.test(e.rawMessage)) {
    const cause = (err as { cause?: { code?: string; message?: string } }).cause;
    return `${server}: cannot reach the admin API${cause?.code ? ` (${cause.code})` : ''}: is the gateway running with --admin-port, and is --server its address?`;
  }
  if (e.code === Code.Unimplemented || (e.code === Code.Unknown && /^HTTP \d+/.test(e.rawMessage))) {
    return `${server}: ${e.rawMessage} — this does not look like infergate's admin API (is --server the gateway's admin port, 8081 by default?)`;
  }
  return `${server}: ${e.rawMessage} (${Code[e.code]})`;
}
