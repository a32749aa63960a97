/**
 * Send the request to the chosen endpoint and stream the answer back,
 * unbuffered. Before any byte of the answer has reached the client, a refused
 * connection or a retriable status (./retry.ts) moves the request to the next
 * candidate, within the per-request attempts and the pool's retry budget.
 * The scheduling lifecycle hears of every dispatch and of its end, however it
 * ends, with the outcome (passive health reads it).
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
import type { UpstreamAuth } from './upstream-auth.ts';
import { DEFAULT_RETRY_OPTIONS, RetryBudget, retryAfterSeconds, type RetryOptions } from './retry.ts';

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

/** What the proxy reports as it goes, for the gateway's metrics. */
export interface ProxyObserver {
  /** An endpoint answered with this status (per request, the one whose answer the client gets). */
  responded(pool: string, model: string, status: number): void;
  /** An attempt on an endpoint was refused or reset (then retried elsewhere). */
  refused(pool: string): void;
  /** A request was sent again, to another endpoint, after this endpoint's answer (a status) or failure. */
  retried(pool: string, reason: string): void;
  /** The first chunk of a streamed answer, `seconds` after the request arrived. */
  firstToken(pool: string, seconds: number): void;
  /** The answer ended, `seconds` after the request arrived. */
  finished(pool: string, seconds: number): void;
}

export interface ProxyOptions {
  /** Give up on an upstream whose response head takes longer, ms. */
  upstreamTimeoutMs: number;
  /** Endpoints tried per request (the first included) when one refuses or answers a retriable status. */
  maxAttempts: number;
  now: () => number;
  retry?: RetryOptions;
}

export interface ProxyPorts {
  upstream: UpstreamClient;
  /** What the pods receive in Authorization, per pool (default: the client's header as sent). */
  upstreamAuth?: UpstreamAuth;
  lifecycle: Pick<EndpointScheduling, 'dispatched' | 'firstToken' | 'completed'>;
  observer: ProxyObserver;
}

export const DESTINATION_HEADER = 'x-gateway-destination-endpoint';

const decoder = new TextDecoder();

/** What a response's Content-Encoding is, as far as restoring the model name goes. */
function contentCoding(value: string | null): 'identity' | 'gzip' | 'deflate' | 'other' {
  const v = value?.trim().toLowerCase();
  if (!v || v === 'identity') return 'identity';
  if (v === 'gzip' || v === 'x-gzip') return 'gzip';
  if (v === 'deflate') return 'deflate';
  return 'other';
}

async function decompress(bytes: Uint8Array, coding: 'gzip' | 'deflate'): Promise<Uint8Array> {
  const stream = new Blob([bytes as BlobPart]).stream().pipeThrough(new DecompressionStream(coding));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

export class Proxy {
  readonly #budget: RetryBudget;

  constructor(
    private readonly ports: ProxyPorts,
    private readonly options: ProxyOptions,
  ) {
    this.#budget = new RetryBudget(options.retry ?? DEFAULT_RETRY_OPTIONS);
  }

  async forward(req: ForwardRequest): Promise<Answer> {
    const load = this.#budget.begin(req.pool.name);
    try {
      return await this.#attempts(req, load);
    } finally {
      this.#budget.done(load);
    }
  }

  async #attempts(req: ForwardRequest, load: ReturnType<RetryBudget['begin']>): Promise<Answer> {
    const { upstream, lifecycle, observer } = this.ports;
    const budget = this.#budget;
    const headers = upstreamRequestHeaders(req.request.headers, req.scheduling.requestId, req.request.remoteAddress);
    this.ports.upstreamAuth?.apply(req.pool.name, headers);
    // An answer whose model name will be restored is read as text: ask for it uncompressed.
    if (req.restoreModel) headers['accept-encoding'] = 'identity';
    const attempts = Math.min(this.options.maxAttempts, req.candidates.length);
    const refused: string[] = [];
    tries: for (let i = 0; i < attempts; i++) {
      const endpoint = req.candidates[i]!;
      // Attempts after the first were counted in the pool's retry budget when they were decided.
      const retry = i > 0;
      lifecycle.dispatched(req.pool, endpoint, req.scheduling);
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
        if (retry) budget.retried(load);
        const failure = upstreamFailure(err);
        lifecycle.completed(req.pool, endpoint, req.scheduling, { status: 0, failure: failure === 'invalid' || !failure ? undefined : failure });
        switch (failure) {
          case 'timeout':
            throw gatewayTimeout(`Endpoint ${endpoint.id} of pool "${req.pool.name}" sent no response within ${this.options.upstreamTimeoutMs} ms. The model server may be overloaded; retry later or raise --upstream-timeout.`);
          case 'aborted':
            // The client is gone; nobody reads this answer.
            return { status: 499, headers: {}, body: null };
          case 'invalid':
            throw badRequest(`${(err as Error).message}`, 'invalid_header');
          case 'connect':
            observer.refused(req.pool.name);
            refused.push(`${endpoint.id} (${(err as Error).message})`);
            if (i + 1 < attempts && budget.tryRetry(load)) {
              observer.retried(req.pool.name, 'connect-failure');
              continue tries;
            }
            break tries;
          default:
            throw err;
        }
      }
      if (retry) budget.retried(load);
      // A retriable status with a candidate left: drop this answer, try the next (the client has seen nothing yet).
      if (budget.retriable(response.status) && i + 1 < attempts && !req.request.signal.aborted && budget.tryRetry(load)) {
        const after = retryAfterSeconds(response.headers.get('retry-after'), this.options.now());
        response.body?.cancel();
        lifecycle.completed(req.pool, endpoint, req.scheduling, { status: response.status, ...(after !== undefined ? { retryAfterSeconds: after } : {}) });
        observer.retried(req.pool.name, String(response.status));
        refused.push(`${endpoint.id} (answered ${response.status})`);
        continue;
      }
      return this.#respond(req, endpoint, response);
    }
    throw badGateway(`Every endpoint tried for pool "${req.pool.name}" failed: ${refused.join(', ')}. The model servers may be down, restarting or overloaded; retry shortly.`);
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
    // A pod that compresses anyway: gzip and deflate are decoded to restore the name; anything else passes untouched.
    const coding = contentCoding(upstream.headers.get('content-encoding'));
    const restore = upstream.status < 300 && req.restoreModel && upstream.body && coding !== 'other' ? req.restoreModel : undefined;
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
      if (coding !== 'identity') {
        try {
          bytes = await decompress(bytes, coding as 'gzip' | 'deflate');
        } catch (err) {
          throw new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_bad_encoding', message: `Endpoint ${endpoint.id} sent a ${coding} body that does not decode (${(err as Error).message}). Retry the request.` });
        }
      }
      return { status: upstream.status, headers, body: restoreModelInJson(decoder.decode(bytes), restore.target, restore.requested) };
    }
    // The first chunk of a stream is the first token: the endpoint's prefill of this prompt is over.
    const first = () => {
      lifecycle.firstToken(req.pool, endpoint, req.scheduling);
      observer.firstToken(req.pool.name, (now() - req.startedAt) / 1000);
    };
    let body = upstream.body.stream(done, first);
    if (restore && coding !== 'identity') body = body.pipeThrough(new DecompressionStream(coding as 'gzip' | 'deflate') as unknown as ReadableWritablePair<Uint8Array, Uint8Array>);
    if (restore) body = body.pipeThrough(restoreModelInSse(restore.target, restore.requested));
    return { status: upstream.status, headers, body };
  }
}
