/**
 * The data plane as one Hono app: the OpenAI-compatible routes plus health.
 * On Deno and Workers it serves everything; on Node the proxied routes of a
 * plain shape are served by the HTTP/1.1 server first (src/runtime/node/),
 * and this app serves the rest.
 */
import { Hono, type Context } from 'hono';
import { GatewayError } from '../api/errors.ts';
import { API_ROUTES } from '../api/openai.ts';
import { toResponse } from '../http/answer.ts';
import { inboundFromRequest } from '../http/inbound.ts';
import type { Gateway } from './gateway.ts';

export interface DataPlaneAppOptions {
  /** The client's address from the runtime's request context (Node: the socket; Deno: the connection info; Workers: CF-Connecting-IP). */
  clientAddress?: (c: Context) => string | undefined;
}

export function createDataPlaneApp(gateway: Gateway, options: DataPlaneAppOptions = {}): Hono {
  const app = new Hono();
  const address = options.clientAddress ?? (() => undefined);
  for (const [path, kind] of Object.entries(API_ROUTES)) {
    app.post(path, async (c) => toResponse(await gateway.answer(kind, inboundFromRequest(c.req.raw, address(c)), path)));
  }
  app.get('/v1/models', () => toResponse(gateway.models()));
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const r = await gateway.readiness();
    if (!r.ready) return c.json({ status: 'not ready', reason: r.reason }, 503);
    return c.json(r.reason ? { status: 'ready', degraded: r.reason } : { status: 'ready' });
  });
  // Any other path goes to the director, which serves it when an HTTPRoute rule names it (else 404 unknown_url).
  app.all('*', async (c) => toResponse(await gateway.answer('other', inboundFromRequest(c.req.raw, address(c)), c.req.path)));
  app.notFound((c) =>
    new GatewayError({
      status: 404,
      type: 'invalid_request_error',
      code: 'unknown_url',
      message: `Unknown path ${c.req.method} ${c.req.path}. This gateway serves POST /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models.`,
    }).toResponse(),
  );
  app.onError((err) => gateway.unexpected(err).toResponse());
  return app;
}
