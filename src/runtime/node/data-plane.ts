/**
 * The data plane on Node: the three proxied OpenAI routes are served by the
 * purpose-built HTTP/1.1 server (node-http1-server.ts) when the request has
 * the plain shape it parses, else straight from node:http (the gateway's
 * answer written to the socket, no web Request or Response per request);
 * everything else goes to the Hono app.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { getRequestListener } from '@hono/node-server';
import type { Hono } from 'hono';
import { internalError } from '../../api/errors.ts';
import { API_ROUTES } from '../../api/openai.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import type { Answer } from '../../http/answer.ts';
import { inboundFromNode } from './inbound.ts';
import { drained, listenFast } from '../../../packages/http1/src/server.ts';
import type { Listening } from './node.ts';

const INTERNAL_ERROR = JSON.stringify(internalError().toJSON());

/** Listen for the data plane: the fast server for the hot requests, node:http for the rest. */
export function listenDataPlane(gateway: Gateway, app: Hono, port: number, host: string): Promise<Listening> {
  return listenFast(
    {
      routes: API_ROUTES,
      handle: (kind, request, path) => gateway.answer(kind, request, path),
      fallback: dataPlaneListener(gateway, app),
      bodyLimit: gateway.options.bodyLimit,
    },
    port,
    host,
  );
}

export function dataPlaneListener(gateway: Gateway, app: Hono): (req: IncomingMessage, res: ServerResponse) => void {
  const fallback = getRequestListener(app.fetch);
  return (req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const kind = req.method === 'POST' ? API_ROUTES[path] : undefined;
    if (!kind) {
      void fallback(req, res);
      return;
    }
    gateway
      .answer(kind, inboundFromNode(req, res), path)
      .then((answer) => writeAnswer(res, answer))
      .catch((err: unknown) => {
        // A bug, not a request problem: log it, and never leave the client waiting.
        console.error(JSON.stringify({ level: 'error', msg: 'unexpected error', error: String((err as Error)?.stack ?? err) }));
        if (res.headersSent) {
          res.destroy();
          return;
        }
        res.writeHead(500, { 'content-type': 'application/json' });
        res.end(INTERNAL_ERROR);
      });
  };
}

export function writeAnswer(res: ServerResponse, answer: Answer): void {
  if (res.destroyed) {
    if (answer.body instanceof ReadableStream) void answer.body.cancel().catch(() => undefined);
    return;
  }
  const body = answer.body;
  if (!(body instanceof ReadableStream)) {
    res.writeHead(answer.status, answer.headers);
    res.end(body ?? undefined);
    return;
  }
  res.writeHead(answer.status, answer.headers);
  res.flushHeaders();
  void pump(body, res);
}

/** Copy a stream to the socket as it arrives, with backpressure; a client that leaves cancels it. */
async function pump(body: ReadableStream<Uint8Array>, res: ServerResponse): Promise<void> {
  const reader = body.getReader();
  const onClose = () => void reader.cancel(new Error('client disconnected')).catch(() => undefined);
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (!res.write(value)) await drained(res);
      if (res.destroyed) return;
    }
    res.end();
  } catch {
    // The upstream broke off mid-answer: cut the client's connection too, so it sees an incomplete answer.
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}
