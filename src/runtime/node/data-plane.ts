/**
 * The data plane on Node, two front doors on one port: the HTTP/1.1 server
 * of packages/http1 serves the proxied OpenAI routes when the request has the
 * plain shape it parses (the hot path: no web Request, Response or streams
 * per request), and hands every other connection, with the bytes it read, to
 * node:http — where the proxied routes are still served without web objects
 * (./node-inbound.ts), and everything else by the data-plane Hono app.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { listenFast, type FastListening } from '@infergate/http1';
import type { Hono } from 'hono';
import { GatewayError, internalError } from '../../api/errors.ts';
import { API_ROUTES, type ApiKind } from '../../api/openai.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import { inboundFromNode, writeAnswer } from './node-inbound.ts';

/** Bounds of the data-plane server (packages/http1's defaults when left out). */
export interface DataPlaneLimits {
  maxConnections?: number;
  maxConnectionsPerClient?: number;
  headersTimeoutMs?: number;
  requestTimeoutMs?: number;
  /** A client that reads nothing of its answer for this long is cut (nginx's send_timeout). */
  sendTimeoutMs?: number;
  keepAliveTimeoutMs?: number;
  /** How long `close()` lets requests under way finish (0: cut at once). */
  drainTimeoutMs?: number;
}

export async function listenDataPlane(
  gateway: Gateway,
  app: Hono,
  port: number,
  host: string,
  limits: DataPlaneLimits = {},
  /**
   * Whether @hono/node-server may replace the global Request and Response with its lighter ones (its default, and
   * Node's). Deno's gateway says no: its admin API is Deno.serve, which takes only Deno's own Response.
   */
  overrideGlobalObjects = true,
): Promise<FastListening> {
  // A request @hono/node-server cannot make a web Request of (a backslash in the path, a bad Host) is
  // the client's error: a 400 in the gateway's shape, not its plain-text default.
  const hono = getRequestListener(app.fetch, {
    overrideGlobalObjects,
    errorHandler: (err) => {
      if ((err as Error)?.name === 'RequestError') return new GatewayError({ status: 400, type: 'invalid_request_error', code: 'invalid_request', message: `The request could not be read: ${(err as Error).message}.` }).toResponse();
      return gateway.unexpected(err).toResponse();
    },
  });
  const routes: Readonly<Record<string, ApiKind>> = API_ROUTES;
  const fallback = (req: IncomingMessage, res: ServerResponse) => {
    const url = req.url ?? '';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const kind = req.method === 'POST' && Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!kind) return void hono(req, res);
    const inbound = inboundFromNode(req, res);
    gateway
      .answer(kind, inbound, path)
      .then((answer) => writeAnswer(res, answer, inbound.closeAfter))
      .catch((err: unknown) => {
        gateway.unexpected(err);
        res.destroy();
      });
  };
  const { drainTimeoutMs = 0, ...bounds } = limits;
  const listening = await listenFast(
    {
      routes,
      handle: (kind, request, path) => gateway.answer(kind, request, path),
      fallback,
      bodyLimit: gateway.options.bodyLimit,
      errorBody: (status, code, message) => ({ contentType: 'application/json', body: JSON.stringify(errorFor(status, code, message).toJSON()) }),
      onError: (err) => void gateway.unexpected(err),
      ...bounds,
    },
    port,
    host,
  );
  return { ...listening, close: (graceMs = drainTimeoutMs) => listening.close(graceMs) };
}

/** The answers the server makes itself, in the gateway's shape: a 400, 408 or 431 it refused, a 500 for a bug. */
function errorFor(status: number, code: string, message: string): GatewayError {
  if (status >= 500) return internalError();
  return new GatewayError({ status, type: 'invalid_request_error', code, message });
}
