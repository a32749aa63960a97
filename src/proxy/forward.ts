/**
 * Send the request to the chosen endpoint and stream the answer back,
 * unbuffered. Connection refused/reset before any byte reached the client:
 * try the next candidate (bounded). The scheduling lifecycle hears of every
 * dispatch and of its end, however it ends.
 */
import { badGateway, badRequest, gatewayTimeout, GatewayError } from '../api/errors.ts';
import type { Endpoint } from '../endpoints/types.ts';
import type { Answer } from '../http/answer.ts';
import type { ClientSignal, InboundRequest } from '../http/inbound.ts';
import { upstreamFailure, type UpstreamClient, type UpstreamResponse } from '../http/upstream.ts';
import type { Pool } from '../routing/schema.ts';
import type { EndpointScheduling } from '../scheduling/endpoint-scheduling.ts';
import type { SchedulingRequest } from '../scheduling/scheduler.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { restoreModelInJson, restoreModelInSse } from './model-rewrite.ts';
import type { ObservedRequest, RequestObserver } from './observer.ts';
import { SseUsageTap, usageFromJson } from './usage.ts';

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
  /** The request as its observers see it (src/proxy/observer.ts). */
  observed: ObservedRequest;
}

/** What the proxy reports as it goes: the proxy's points of the request observer (attempts, answer, first token, end). */
export type ProxyObserver = Required<Pick<RequestObserver, 'attempt' | 'attemptFailed' | 'responded' | 'firstToken' | 'finished'>>;

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
    const refused: string[] = [];
    for (let i = 0; i < attempts; i++) {
      const endpoint = req.candidates[i]!;
      lifecycle.dispatched(req.pool, endpoint, req.scheduling);
      observer.attempt(req.observed, endpoint, headers);
      let response: UpstreamResponse;
      try {
        response = await upstream.request({
          origin: `http://${endpoint.address.includes(':') ? `[${endpoint.address}]` : endpoint.address}:${endpoint.port}`,
          method: 'POST',
          path: req.path + req.request.search,
          headers,
          body: req.body,
          signal: req.request.signal,
          headersTimeoutMs: this.options.upstreamTimeoutMs,
        });
      } catch (err) {
        const failure = upstreamFailure(err);
        lifecycle.completed(req.pool, endpoint, req.scheduling, { status: 0, failure: failure === 'invalid' || !failure ? undefined : failure });
        if (failure) observer.attemptFailed(req.observed, endpoint, failure);
        switch (failure) {
          case 'timeout':
            throw gatewayTimeout(`Endpoint ${endpoint.id} of pool "${req.pool.name}" sent no response within ${this.options.upstreamTimeoutMs} ms. The model server may be overloaded; retry later or raise --upstream-timeout.`);
          case 'aborted':
            // The client is gone; nobody reads this answer.
            req.observed.status = 499;
            observer.finished(req.observed);
            return { status: 499, headers: {}, body: null };
          case 'invalid':
            throw badRequest(`${(err as Error).message}`, 'invalid_header');
          case 'connect':
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
    const observed = req.observed;
    let finished = false;
    const completed = (failure?: 'broken') => {
      if (finished) return;
      finished = true;
      lifecycle.completed(req.pool, endpoint, req.scheduling, { status: upstream.status, ...(failure ? { failure } : {}) });
    };
    const done = (failure?: 'broken') => {
      completed(failure);
      if (failure) observed.failure = failure;
      observer.finished(observed);
    };
    observed.status = upstream.status;
    observer.responded(observed, endpoint);
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
        observed.status = 502;
        done('broken');
        throw new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_reset', message: `Endpoint ${endpoint.id} broke off its answer: ${(err as Error).message}. Retry the request.` });
      }
      observed.responseBytes = bytes.byteLength;
      if (upstream.status < 300) observed.usage = usageFromJson(bytes);
      done();
      if (!restore) return { status: upstream.status, headers, body: bytes };
      return { status: upstream.status, headers, body: restoreModelInJson(decoder.decode(bytes), restore.target, restore.requested) };
    }
    // The first chunk of a stream is the first token: the endpoint's prefill of this prompt is over.
    const first = () => {
      lifecycle.firstToken(req.pool, endpoint, req.scheduling);
      observer.firstToken(observed);
    };
    // The usage chunk is read as it passes (never held back); the observers hear of the end once the client has had every byte.
    let body = observedStream(upstream.body.stream(completed, first), observed, observer, req.request.signal);
    if (restore) body = body.pipeThrough(restoreModelInSse(restore.target, restore.requested));
    return { status: upstream.status, headers, body };
  }
}

/** The streamed answer as the client reads it, its bytes scanned for the usage chunk; `finished` when it ends, fails or is cancelled. */
function observedStream(source: ReadableStream<Uint8Array>, observed: ObservedRequest, observer: ProxyObserver, client: ClientSignal): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const tap = new SseUsageTap();
  const finish = (failure?: 'broken' | 'aborted') => {
    if (observed.done) return;
    observed.responseBytes = tap.bytes;
    observed.usage = tap.usage();
    if (failure) observed.failure = failure;
    observer.finished(observed);
  };
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        finish(client.aborted ? 'aborted' : 'broken');
        controller.error(err);
        return;
      }
      if (next.done) {
        finish();
        controller.close();
        return;
      }
      tap.push(next.value);
      controller.enqueue(next.value);
    },
    cancel(reason) {
      finish('aborted');
      return reader.cancel(reason);
    },
  });
}
