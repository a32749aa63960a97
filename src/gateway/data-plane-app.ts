/**
 * The data plane: OpenAI-compatible routes plus health, as one Hono app.
 */
import { Hono, type Context } from 'hono';
import type { Gateway } from './gateway.ts';
import { inboundFromRequest } from '../http/inbound.ts';
import { GatewayError } from '../api/errors.ts';

/**
 * On Node the three POST routes are served before this app sees them
 * (src/runtime/node-dataplane.ts); on Deno and Workers it serves them too.
 */
export function createDataPlaneApp(gateway: Gateway): Hono {
  const app = new Hono();
  const inbound = (c: Context) => inboundFromRequest(c.req.raw);
  app.post('/v1/chat/completions', (c) => gateway.handle('chat', inbound(c), '/v1/chat/completions'));
  app.post('/v1/completions', (c) => gateway.handle('completions', inbound(c), '/v1/completions'));
  app.post('/v1/embeddings', (c) => gateway.handle('embeddings', inbound(c), '/v1/embeddings'));
  app.get('/v1/models', () => gateway.models());
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', (c) => {
    const r = gateway.readiness();
    return r.ready ? c.json({ status: 'ready' }) : c.json({ status: 'not ready', reason: r.reason }, 503);
  });
  app.notFound((c) =>
    new GatewayError({
      status: 404,
      type: 'invalid_request_error',
      code: 'unknown_url',
      message: `Unknown path ${c.req.method} ${c.req.path}. This gateway serves POST /v1/chat/completions, /v1/completions, /v1/embeddings and GET /v1/models.`,
    }).toResponse(),
  );
  app.onError((err) => {
    console.error(JSON.stringify({ level: 'error', msg: 'unhandled', error: String(err?.stack ?? err) }));
    return new GatewayError({ status: 500, type: 'server_error', code: 'internal_error', message: 'The gateway failed on this request; it was logged.' }).toResponse();
  });
  return app;
}
