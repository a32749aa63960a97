/**
 * Send the request to the chosen endpoint and stream the answer back,
 * unbuffered. Connection refused/reset before any byte reached the client:
 * try the next candidate (bounded). The scheduler hears of every dispatch and
 * of its end, however it ends.
 */
import { badGateway, gatewayTimeout, GatewayError } from '../api/errors.ts';
import type { Endpoint } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import type { SchedulingRequest } from '../scheduling/scheduler.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { restoreModelInJson, restoreModelInSse } from './model-rewrite.ts';
import { UpstreamError, type UpstreamResponse } from '../http/upstream.ts';
import type { Gateway } from '../gateway/gateway.ts';
import type { InboundRequest } from '../http/inbound.ts';
import type { Answer } from '../http/answer.ts';

export interface ForwardRequest {
  pool: Pool;
  candidates: Endpoint[];
  scheduling: SchedulingRequest;
  request: InboundRequest;
  path: string;
  body: Uint8Array;
  stream: boolean;
  restoreModel?: { target: string; requested: string };
  extraHeaders: Record<string, string>;
  /** When the gateway received the request (ms, the gateway's clock). */
  startedAt: number;
}

export const DESTINATION_HEADER = 'x-gateway-destination-endpoint';

export async function forward(gateway: Gateway, req: ForwardRequest): Promise<Answer> {
  const headers = upstreamRequestHeaders(req.request.headers, req.scheduling.requestId);
  const attempts = Math.min(gateway.options.maxAttempts, req.candidates.length);
  const refused: string[] = [];
  for (let i = 0; i < attempts; i++) {
    const endpoint = req.candidates[i]!;
    gateway.scheduler.dispatched(req.pool, endpoint, req.scheduling);
    let upstream: UpstreamResponse;
    try {
      upstream = await gateway.upstream.request({
        origin: `http://${endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`,
        method: 'POST',
        path: req.path + req.request.search,
        headers,
        body: req.body,
        signal: req.request.signal,
        headersTimeoutMs: gateway.options.upstreamTimeoutMs,
      });
    } catch (err) {
      gateway.scheduler.completed(req.pool, endpoint, req.scheduling);
      if (!(err instanceof UpstreamError)) throw err;
      if (err.kind === 'timeout') {
        throw gatewayTimeout(`Endpoint ${endpoint.id} of pool "${req.pool.name}" sent no response within ${gateway.options.upstreamTimeoutMs} ms. The model server may be overloaded; retry later or raise --upstream-timeout.`);
      }
      if (err.kind === 'aborted') {
        // The client is gone; nobody reads this answer.
        return { status: 499, headers: {}, body: null };
      }
      gateway.outliers.failed(endpoint);
      gateway.metrics.refused(req.pool.name);
      refused.push(`${endpoint.id} (${err.message})`);
      continue;
    }
    gateway.outliers.succeeded(endpoint);
    return respond(gateway, req, endpoint, upstream);
  }
  throw badGateway(
    `Every endpoint tried for pool "${req.pool.name}" failed before answering: ${refused.join(', ')}. The model servers may be down or restarting; retry shortly.`,
  );
}

async function respond(gateway: Gateway, req: ForwardRequest, endpoint: Endpoint, upstream: UpstreamResponse): Promise<Answer> {
  let finished = false;
  const done = () => {
    if (finished) return;
    finished = true;
    gateway.scheduler.completed(req.pool, endpoint, req.scheduling);
    gateway.metrics.duration(req.pool.name, (gateway.options.now() - req.startedAt) / 1000);
  };
  gateway.metrics.request(req.pool.name, req.scheduling.requestedModel, upstream.status);
  const contentType = upstream.headers.get('content-type') ?? '';
  const restore = upstream.status < 300 && req.restoreModel && upstream.body ? req.restoreModel : undefined;
  const headers = clientResponseHeaders(upstream.headers, restore !== undefined);
  headers[DESTINATION_HEADER] = endpoint.id;
  for (const k in req.extraHeaders) headers[k] = req.extraHeaders[k]!;

  if (!upstream.body) {
    done();
    return { status: upstream.status, headers, body: null };
  }
  if (!req.stream && !contentType.includes('text/event-stream')) {
    // A whole answer the client could not use before its end anyway: read it
    // at once (no stream objects per request), restore the name, send it.
    let bytes: Uint8Array;
    try {
      bytes = await upstream.body.bytes();
    } catch (err) {
      throw new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_reset', message: `Endpoint ${endpoint.id} broke off its answer: ${(err as Error).message}. Retry the request.` });
    } finally {
      done();
    }
    if (!restore) return { status: upstream.status, headers, body: bytes };
    return { status: upstream.status, headers, body: restoreModelInJson(decoder.decode(bytes), restore.target, restore.requested) };
  }
  // The first chunk of a stream is the first token: the endpoint's prefill of this prompt is over.
  const first = () => {
    gateway.scheduler.firstToken?.(req.pool, endpoint, req.scheduling);
    gateway.metrics.firstToken(req.pool.name, (gateway.options.now() - req.startedAt) / 1000);
  };
  let body = upstream.body.stream(done, first);
  if (restore) body = body.pipeThrough(restoreModelInSse(restore.target, restore.requested));
  return { status: upstream.status, headers, body };
}

const decoder = new TextDecoder();
