/**
 * The data plane on Node, two front doors on one port: the HTTP/1.1 server
 * of packages/http1 serves the proxied OpenAI routes when the request has the
 * plain shape it parses (the hot path: no web Request, Response or streams
 * per request), and hands every other connection, with the bytes it read, to
 * node:http serving the data-plane Hono app.
 */
import { getRequestListener } from '@hono/node-server';
import { listenFast, type Listening } from '@infergate/http1';
import type { Hono } from 'hono';
import { GatewayError, internalError } from '../../api/errors.ts';
import { API_ROUTES } from '../../api/openai.ts';
import type { Gateway } from '../../gateway/gateway.ts';

export function listenDataPlane(gateway: Gateway, app: Hono, port: number, host: string): Promise<Listening> {
  return listenFast(
    {
      routes: API_ROUTES,
      handle: (kind, request, path) => gateway.answer(kind, request, path),
      fallback: getRequestListener(app.fetch),
      bodyLimit: gateway.options.bodyLimit,
      errorBody: (status, code, message) => ({ contentType: 'application/json', body: JSON.stringify(errorFor(status, code, message).toJSON()) }),
      onError: (err) => void gateway.unexpected(err),
    },
    port,
    host,
  );
}

/** The answers the server makes itself, in the gateway's shape: a 408 for a request that trickled in, a 500 for a bug. */
function errorFor(status: number, code: string, message: string): GatewayError {
  if (status >= 500) return internalError();
  return new GatewayError({ status, type: 'invalid_request_error', code, message });
}
