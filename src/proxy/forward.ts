/**
 * Send the request to the chosen endpoint and stream the answer back,
 * unbuffered. Connection refused/reset before any byte reached the client:
 * try the next candidate (bounded). The scheduling lifecycle hears of every
 * dispatch and of its end, however it ends.
 */
import { badGateway, badRequest, gatewayTimeout, GatewayError } from '../api/errors.ts';
import type { Endpoint } from '../endpoints/types.ts';
import type { Answer } from '../http/answer.ts';
import type { InboundRequest } from '../http/inbound.ts';
import { upstreamFailure, type UpstreamClient, type UpstreamResponse } from '../http/upstream.ts';
import type { Pool } from '../routing/schema.ts';
import type { EndpointScheduling } from '../scheduling/endpoint-scheduling.ts';
import type { SchedulingRequest } from '../scheduling/scheduler.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { restoreModelInJson, restoreModelInSse } from './model-rewrite.ts';

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
  /** The route's own bound on the wait for the answer head (HTTPRoute timeouts.request), ms; default the proxy's. */
  headersTimeoutMs?: number;
}

/** What the proxy reports as it goes, for the gateway's metrics. */
export interface ProxyObserver {
  /** An endpoint answered with this status (per request, the one whose answer the client gets). */
  responded(pool: string, model: string, status: number): void;
  /** An attempt on an endpoint was refused or reset (then retried elsewhere). */
  refused(pool: string): void;
  /** The first chunk of a streamed answer, `seconds` after the request arrived. */
  firstToken(pool: string, seconds: number): void;
  /** The answer ended, `seconds` after the request arrived. */
  finished(pool: string, seconds: number): void;
}

export interface ProxyOptions {
  /** Give up on an upstream whose response head takes longer, ms. */
  upstreamTimeoutMs: number;
  /** Endpoints tried per request when connections are refused. */
  maxAttempts: number;
  now: () => number;
}

export interface ProxyPorts {
  upstream: UpstreamClient;
  lifecycle: Pick<EndpointScheduling, 'dispatched' | 'firstToken' | 'completed'>;
  observer: ProxyObserver;
}

export const DESTINATION_HEADER = 'x-gateway-destination-endpoint';

const decoder = new TextDecoder();

export class Proxy {
  constructor(
    private readonly ports: ProxyPorts,
    private readonly options: ProxyOptions,
  ) {}

  async forward(req: ForwardRequest): Promise<Answer> {
    const { upstream, lifecycle, observer } = this.ports;
    const headers = upstreamRequestHeaders(req.request.headers, req.scheduling.requestId);
    const attempts = Math.min(this.options.maxAttempts, req.candidates.length);
    const headersTimeoutMs = req.headersTimeoutMs ?? this.options.upstreamTimeoutMs;
    const refused: string[] = [];
    for (let i = 0; i < attempts; i++) {
      const endpoint = req.candidates[i]!;
      lifecycle.dispatched(req.pool, endpoint, req.scheduling);
      let response: UpstreamResponse;
      try {
        response = await upstream.request({
          origin: `http://${endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`,
          method: req.request.method ?? 'POST',
          path: req.path + req.request.search,
          headers,
          // The client's Host, as a Gateway API gateway forwards it (the model server sees what the client asked for).
          host: req.request.headers.get('host') ?? undefined,
          body: req.body,
          signal: req.request.signal,
          headersTimeoutMs,
        });
      } catch (err) {
        const failure = upstreamFailure(err);
        lifecycle.completed(req.pool, endpoint, req.scheduling, { status: 0, failure: failure === 'invalid' || !failure ? undefined : failure });
        switch (failure) {
          case 'timeout':
            throw gatewayTimeout(`Endpoint ${endpoint.id} of pool "${req.pool.name}" sent no response within ${headersTimeoutMs} ms. The model server may be overloaded; retry later or raise ${req.headersTimeoutMs !== undefined ? "the HTTPRoute rule's timeouts.request" : '--upstream-timeout'}.`);
          case 'aborted':
            // The client is gone; nobody reads this answer.
            return { status: 499, headers: {}, body: null };
          case 'invalid':
            throw badRequest(`${(err as Error).message}`, 'invalid_header');
          case 'connect':
            observer.refused(req.pool.name);
            refused.push(`${endpoint.id} (${(err as Error).message})`);
            continue;
          default:
            throw err;
        }
      }
      return this.#respond(req, endpoint, response);
    }
    throw badGateway(`Every endpoint tried for pool "${req.pool.name}" failed before answering: ${refused.join(', ')}. The model servers may be down or restarting; retry shortly.`);
  }

  async #respond(req: ForwardRequest, endpoint: Endpoint, upstream: UpstreamResponse): Promise<Answer> {
    const { lifecycle, observer } = this.ports;
    const now = this.options.now;
    let finished = false;
    const done = (failure?: 'broken') => {
      if (finished) return;
      finished = true;
      lifecycle.completed(req.pool, endpoint, req.scheduling, { status: upstream.status, ...(failure ? { failure } : {}) });
      observer.finished(req.pool.name, (now() - req.startedAt) / 1000);
    };
    observer.responded(req.pool.name, req.scheduling.requestedModel, upstream.status);
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
        done('broken');
        throw new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_reset', message: `Endpoint ${endpoint.id} broke off its answer: ${(err as Error).message}. Retry the request.` });
      }
      done();
      if (!restore) return { status: upstream.status, headers, body: bytes };
      return { status: upstream.status, headers, body: restoreModelInJson(decoder.decode(bytes), restore.target, restore.requested) };
    }
    // The first chunk of a stream is the first token: the endpoint's prefill of this prompt is over.
    const first = () => {
      lifecycle.firstToken(req.pool, endpoint, req.scheduling);
      observer.firstToken(req.pool.name, (now() - req.startedAt) / 1000);
    };
    let body = upstream.body.stream(done, first);
    if (restore) body = body.pipeThrough(restoreModelInSse(restore.target, restore.requested));
    return { status: upstream.status, headers, body };
  }
}
