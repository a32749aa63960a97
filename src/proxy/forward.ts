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
import { upstreamFailure, type UpstreamClient, type UpstreamFailure, type UpstreamResponse } from '../http/upstream.ts';
import type { Pool } from '../routing/schema.ts';
import type { EndpointScheduling } from '../scheduling/endpoint-scheduling.ts';
import type { SchedulingRequest } from '../scheduling/scheduler.ts';
import { clientResponseHeaders, upstreamRequestHeaders } from './headers.ts';
import { restoreModelInJson, restoreModelInSse } from './model-rewrite.ts';
import type { UpstreamAuth } from './upstream-auth.ts';
import { relaySse, type RelayedStream } from './sse-relay.ts';
import { DEFAULT_RETRY_OPTIONS, RetryBudget, retryAfterSeconds, type RetryOptions } from './retry.ts';
import type { ObservedRequest, RequestObserver } from './observer.ts';
import { finishObserved, observedStream, SseUsageTap, usageFromJson } from './usage.ts';
import { httpOrigin } from '../endpoints/address.ts';

export interface ForwardRequest {
  pool: Pool;
  candidates: Endpoint[];
  scheduling: SchedulingRequest;
  request: InboundRequest;
  path: string;
  body: Uint8Array;
  stream: boolean;
  restoreModel?: { target: string; requested: string };
  /**
   * The gateway reads the answer: its usage (the tenant's charge, token
   * metrics, the access log) or the model name to restore. The pod is then
   * asked for it uncompressed: a gzipped answer's usage cannot be read as it
   * passes, and its tenant would be charged the whole reservation.
   */
  readsAnswer: boolean;
  /** How to continue a streamed answer on another pod when its pod breaks off (../api/continuation.ts); undefined: it cannot be. */
  continuation?: (text: string, generated: number) => Uint8Array;
  extraHeaders: Record<string, string>;
  /** The request as its observers see it (src/proxy/observer.ts). */
  observed: ObservedRequest;
  /** The route's own bound on the wait for the answer head (HTTPRoute timeouts.request), ms; default the proxy's. */
  headersTimeoutMs?: number;
}

/** What the proxy reports as it goes: the proxy's points of the request observer (attempts, retries, the answer, first token, resumes, the end). */
export type ProxyObserver = Required<Pick<RequestObserver, 'attempt' | 'attemptFailed' | 'retried' | 'responded' | 'resumeFailed' | 'resumed' | 'firstToken' | 'finished'>>;

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
  /** Another endpoint of the pool for this request, not one of `exclude` (to continue a broken stream). */
  pick?(pool: Pool, request: SchedulingRequest, exclude: ReadonlySet<string>): Promise<Endpoint | undefined>;
}

export const DESTINATION_HEADER = 'x-gateway-destination-endpoint';

const decoder = new TextDecoder();
const noop = () => {};

/** An answer body that failed while being read whole: too large to hold, stalled, or cut off. */
function bodyFailure(endpoint: Endpoint, err: unknown): GatewayError {
  const kind = (err as { kind?: unknown }).kind;
  const message = (err as Error).message;
  if (kind === 'too_large') return new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_too_large', message: `Endpoint ${endpoint.id} sent an answer larger than this gateway holds (${message}). Ask for a shorter answer, or stream it.` });
  if (kind === 'idle') return new GatewayError({ status: 504, type: 'timeout_error', code: 'upstream_stalled', message: `Endpoint ${endpoint.id} stopped sending its answer (${message}). Retry the request.` });
  return new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_reset', message: `Endpoint ${endpoint.id} broke off its answer: ${message}. Retry the request.` });
}

/** What an attempt's failure says of the pod (passive health): nothing when the request never could be sent. */
function podFailure(failure: UpstreamFailure | undefined): Exclude<UpstreamFailure, 'invalid' | 'unsupported'> | undefined {
  return failure === 'invalid' || failure === 'unsupported' ? undefined : failure;
}

function originOf(endpoint: Endpoint): string {
  return httpOrigin(endpoint.address, endpoint.port);
}

/** A body stream that reports how it ended: read to its end, broken off by the pod, or cancelled by the client. */
function tracked(source: ReadableStream<Uint8Array>, end: (failure?: 'broken' | 'aborted') => void): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let r: ReadableStreamReadResult<Uint8Array>;
      try {
        r = await reader.read();
      } catch (err) {
        end('broken');
        controller.error(err);
        return;
      }
      if (r.done) {
        end();
        controller.close();
      } else controller.enqueue(r.value);
    },
    cancel(reason) {
      end('aborted');
      return reader.cancel(reason);
    },
  });
}

function decoding(coding: 'gzip' | 'deflate'): ReadableWritablePair<Uint8Array, Uint8Array> {
  return new DecompressionStream(coding) as unknown as ReadableWritablePair<Uint8Array, Uint8Array>;
}

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
    const headers = upstreamRequestHeaders(req.request.headers, req.scheduling.requestId, req.request.remoteAddress, req.readsAnswer);
    this.ports.upstreamAuth?.apply(req.pool.name, headers);
    const attempts = Math.min(this.options.maxAttempts, req.candidates.length);
    const headersTimeoutMs = req.headersTimeoutMs ?? this.options.upstreamTimeoutMs;
    const refused: string[] = [];
    tries: for (let i = 0; i < attempts; i++) {
      const endpoint = req.candidates[i]!;
      // Attempts after the first were counted in the pool's retry budget when they were decided.
      const retry = i > 0;
      lifecycle.dispatched(req.pool, endpoint, req.scheduling);
      observer.attempt(req.observed, endpoint, headers);
      let response: UpstreamResponse;
      try {
        response = await upstream.request({
          origin: originOf(endpoint),
          method: req.request.method ?? 'POST',
          path: req.path + req.request.search,
          headers,
          // The client's Host, as a Gateway API gateway forwards it (the model server sees what the client asked for).
          host: req.request.headers.get('host') ?? undefined,
          body: req.body,
          signal: req.request.signal,
          headersTimeoutMs,
          protocol: req.pool.appProtocol,
        });
      } catch (err) {
        if (retry) budget.retried(load);
        const failure = upstreamFailure(err);
        lifecycle.completed(req.pool, endpoint, req.scheduling, { status: 0, failure: podFailure(failure) });
        if (failure) observer.attemptFailed(req.observed, endpoint, failure);
        switch (failure) {
          case 'timeout':
            throw gatewayTimeout(`Endpoint ${endpoint.id} of pool "${req.pool.name}" sent no response within ${headersTimeoutMs} ms. The model server may be overloaded; retry later or raise ${req.headersTimeoutMs !== undefined ? "the HTTPRoute rule's timeouts.request" : '--upstream-timeout'}.`);
          case 'aborted':
            // The client is gone; nobody reads this answer.
            req.observed.status = 499;
            observer.finished(req.observed);
            return { status: 499, headers: {}, body: null };
          case 'invalid':
            throw badRequest(`${(err as Error).message}`, 'invalid_header');
          case 'unsupported':
            throw new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_protocol_unsupported', message: `Pool "${req.pool.name}" serves over HTTP/2 cleartext, but ${(err as Error).message}. Run this pool's gateway on Node or Deno, or serve the pool over HTTP/1.1 (appProtocol http).` });
          case 'broken':
            // The endpoint may have read the request: never sent to another one (a POST is not sent twice).
            throw new GatewayError({ status: 502, type: 'upstream_error', code: 'upstream_unavailable', message: `Endpoint ${endpoint.id} of pool "${req.pool.name}" closed the connection or answered malformed after receiving the request (${(err as Error).message}). It was not sent to another endpoint, since it may have been processed; retry it if that is safe.` });
          case 'connect':
            refused.push(`${endpoint.id} (${(err as Error).message})`);
            if (i + 1 < attempts && budget.tryRetry(load)) {
              observer.retried(req.observed, endpoint, 'connect-failure');
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
        observer.retried(req.observed, endpoint, String(response.status));
        refused.push(`${endpoint.id} (answered ${response.status})`);
        continue;
      }
      return this.#respond(req, endpoint, response);
    }
    throw badGateway(`Every endpoint tried for pool "${req.pool.name}" failed: ${refused.join(', ')}. The model servers may be down, restarting or overloaded; retry shortly.`);
  }

  async #respond(req: ForwardRequest, endpoint: Endpoint, upstream: UpstreamResponse): Promise<Answer> {
    const { lifecycle, observer } = this.ports;
    const observed = req.observed;
    let finished = false;
    /** The pod's part is over (its answer read, broken off or cancelled). */
    const completed = (failure?: 'broken' | 'aborted') => {
      if (finished) return;
      finished = true;
      lifecycle.completed(req.pool, endpoint, req.scheduling, { status: upstream.status, ...(failure ? { failure } : {}) });
    };
    /** The pod's part and the request are over together (an answer read whole). */
    const done = (failure?: 'broken' | 'aborted') => {
      completed(failure);
      if (failure) observed.failure = failure;
      observer.finished(observed);
    };
    observed.status = upstream.status;
    observer.responded(observed, endpoint);
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
        observed.status = 502;
        done('broken');
        throw bodyFailure(endpoint, err);
      }
      observed.responseBytes = bytes.byteLength;
      if (upstream.status < 300 && coding === 'identity') observed.usage = usageFromJson(bytes);
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
    let firstSeen = false;
    const first = () => {
      lifecycle.firstToken(req.pool, endpoint, req.scheduling);
      if (firstSeen) return;
      firstSeen = true;
      observer.firstToken(observed);
    };
    // A chat or completions answer streamed as SSE is relayed event by event, in one stage: a pod that breaks off is
    // replaced (or the client gets an error event), the model name restored, the usage chunk read as it passes (never
    // held back), and the observers hear of the end once the client has had every byte. Any other SSE (a path an
    // HTTPRoute names, /v1/responses…) has no chat-shaped end to check: it passes through below, renamed line by line.
    const answer = observed.kind === 'chat' || observed.kind === 'completions';
    if (answer && upstream.status === 200 && contentType.includes('text/event-stream') && (coding === 'identity' || restore)) {
      const pod = upstream.body.stream(noop, first);
      const tap = new SseUsageTap();
      const body = relaySse(
        { endpointId: endpoint.id, stream: coding === 'identity' ? pod : pod.pipeThrough(decoding(coding as 'gzip' | 'deflate')), end: completed },
        {
          continuation: req.continuation,
          maxResumes: 2,
          resume: (next, failed) => this.#resume(req, next, failed),
          onResumed: (ok) => observer.resumed(observed, ok),
          ...(restore ? { restore } : {}),
          onChunk: (bytes) => tap.push(bytes),
          onEnd: (failure) => finishObserved(observed, observer, tap, failure),
        },
      );
      return { status: upstream.status, headers, body };
    }
    let body = tracked(upstream.body.stream(noop, first), completed);
    if (restore && coding !== 'identity') body = body.pipeThrough(decoding(coding as 'gzip' | 'deflate'));
    body = observedStream(body, observed, observer, req.request.signal);
    if (restore) body = body.pipeThrough(restoreModelInSse(restore.target, restore.requested));
    return { status: upstream.status, headers, body };
  }

  /** Send a continuation of a broken stream to another endpoint of the pool; its answer stream, or why none. */
  async #resume(req: ForwardRequest, body: Uint8Array, failed: ReadonlySet<string>): Promise<RelayedStream | { error: string }> {
    const { upstream, lifecycle, pick } = this.ports;
    // A client that has left is not answered on another pod (its pod's stream broke because it left).
    if (req.request.signal.aborted) return { error: 'the client went away' };
    const endpoint = pick && (await pick(req.pool, req.scheduling, failed));
    if (!endpoint) return { error: `no other endpoint of pool "${req.pool.name}" can take it` };
    lifecycle.dispatched(req.pool, endpoint, req.scheduling);
    const headers = upstreamRequestHeaders(req.request.headers, req.scheduling.requestId, req.request.remoteAddress, req.readsAnswer);
    this.ports.upstreamAuth?.apply(req.pool.name, headers);
    this.ports.observer.attempt(req.observed, endpoint, headers);
    let response: UpstreamResponse;
    try {
      response = await upstream.request({ origin: originOf(endpoint), method: 'POST', path: req.path + req.request.search, headers, host: req.request.headers.get('host') ?? undefined, body, signal: req.request.signal, headersTimeoutMs: this.options.upstreamTimeoutMs, protocol: req.pool.appProtocol });
    } catch (err) {
      const failure = upstreamFailure(err);
      lifecycle.completed(req.pool, endpoint, req.scheduling, { status: 0, failure: podFailure(failure) });
      this.ports.observer.resumeFailed(req.observed, endpoint, failure ?? 'broken');
      return { error: `${endpoint.id} (${(err as Error).message})` };
    }
    const coding = contentCoding(response.headers.get('content-encoding'));
    if (response.status !== 200 || !response.body || !(response.headers.get('content-type') ?? '').includes('text/event-stream') || coding === 'other') {
      response.body?.cancel();
      lifecycle.completed(req.pool, endpoint, req.scheduling, { status: response.status });
      this.ports.observer.resumeFailed(req.observed, endpoint, response.status);
      return { error: `${endpoint.id} answered ${response.status}` };
    }
    let finished = false;
    const done = (failure?: 'broken' | 'aborted') => {
      if (finished) return;
      finished = true;
      lifecycle.completed(req.pool, endpoint, req.scheduling, { status: response.status, ...(failure ? { failure } : {}) });
    };
    // Its attempt answered (200, an event stream): said as the first endpoint's answer was (the attempt's span status).
    this.ports.observer.responded(req.observed, endpoint);
    const pod = response.body.stream(noop, () => lifecycle.firstToken(req.pool, endpoint, req.scheduling));
    return { endpointId: endpoint.id, stream: coding === 'identity' ? pod : pod.pipeThrough(decoding(coding)), end: done };
  }
}

