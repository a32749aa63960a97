/**
 * OpenTelemetry traces of each request, as a request observer over
 * `@opentelemetry/api` (web-standard; the SDK and exporter are a runtime's
 * business: src/runtime/node/tracing.ts). The client's W3C trace context is
 * continued, never restarted: a SERVER span `{method} {http.route}` (OTel HTTP
 * semconv: `POST /v1/chat/completions`; a path an HTTPRoute names takes its
 * rule's path value, `GET /health`; just `GET` when nothing matched) whose
 * children are `route` (model → pool → target), `admission` (only when the
 * request waited in flow control or was shed), `schedule` (chosen endpoint,
 * score, profile) and one CLIENT span per upstream attempt, named as the
 * GenAI conventions name inference calls (`chat gemma-3`; an HTTPRoute's own
 * path is no GenAI operation: `{method}`, as HTTP client spans are), carrying
 * a `first_token` event, and made the parent of the `traceparent` the model
 * server receives. Spans that are over before anyone could look (routing,
 * scheduling) are made when their step ends, with the step's times.
 */
import { SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span, type TextMapGetter, type TextMapPropagator, type Tracer, ROOT_CONTEXT, isSpanContextValid } from '@opentelemetry/api';
import type { InboundHeaders } from '../http/inbound.ts';
import type { ObservedRequest, RequestObserver } from '../proxy/observer.ts';
import type { Decision } from '../scheduling/scheduler.ts';

export interface TracingOptions {
  tracer: Tracer;
  /** Reads and writes the trace context headers (W3C traceparent/tracestate). */
  propagator: TextMapPropagator;
  /** What sends the upstream requests to HTTP/1.1 pools (`http1`, `fetch`): the client span's `infergate.upstream.client` (`h2c` for h2c pools). */
  upstreamClient: string;
  /**
   * Write the upstream span's traceparent into the upstream request (default true). False where the
   * runtime's HTTP client adds one itself (Deno's traced fetch appends its own: two would make the
   * header invalid); the client's is removed either way.
   */
  injectUpstream?: boolean;
}

interface RequestSpans {
  context: Context;
  server: Span;
  admission?: Span;
  upstream?: Span;
}

/** gen_ai.operation.name per API (GenAI semantic conventions); a path outside the OpenAI API (an HTTPRoute's own) has none. */
const OPERATION = { chat: 'chat', completions: 'text_completion', embeddings: 'embeddings' } as const;

/**
 * gen_ai.provider.name (GenAI semconv ≥ 1.37; `gen_ai.system` before): the telemetry flavour of the API spoken, as
 * the instrumentation knows it. The pods speak OpenAI's REST API (vLLM, SGLang, TensorRT-LLM serve it), and the
 * conventions list no value for a self-hosted engine (none for vLLM); `server.address` and `gen_ai.response.model`
 * say which server and model answered.
 */
const PROVIDER = 'openai';

/** OTel HTTP semconv: a method outside the known set is `_OTHER` (span name `HTTP`), the original in `http.request.method_original`. */
const KNOWN_METHODS = new Set(['CONNECT', 'DELETE', 'GET', 'HEAD', 'OPTIONS', 'PATCH', 'POST', 'PUT', 'TRACE']);
function methodAttributes(method: string): { name: string; attributes: Attributes } {
  if (KNOWN_METHODS.has(method)) return { name: method, attributes: { 'http.request.method': method } };
  return { name: 'HTTP', attributes: { 'http.request.method': '_OTHER', 'http.request.method_original': method } };
}

/**
 * An upstream attempt's answer on its CLIENT span. OTel HTTP semconv: `error.type` is the status code and the span
 * an Error from 400 up on a client span (a 429 or 5xx the gateway retried elsewhere included).
 */
function answered(span: Span, status: number): void {
  span.setAttribute('http.response.status_code', status);
  if (status < 400) return;
  span.setAttribute('error.type', String(status));
  span.setStatus({ code: SpanStatusCode.ERROR });
}

const headerGetter: TextMapGetter<InboundHeaders> = {
  get: (carrier, key) => carrier.get(key) ?? undefined,
  keys: (carrier) => {
    const keys: string[] = [];
    carrier.forEach((_, k) => keys.push(k));
    return keys;
  },
};

export function tracingObserver(options: TracingOptions): RequestObserver {
  const { tracer, propagator } = options;
  const spans = (r: ObservedRequest) => r.trace as RequestSpans | undefined;
  return {
    received(r) {
      const parent = propagator.extract(ROOT_CONTEXT, r.headers, headerGetter);
      let server: Span;
      if (r.kind !== 'other') {
        // The OpenAI API's own routes: the path is the route, and the request a GenAI operation.
        server = tracer.startSpan(
          `POST ${r.path}`,
          { kind: SpanKind.SERVER, startTime: r.receivedAt, attributes: { 'http.request.method': 'POST', 'http.route': r.path, 'url.path': r.path, 'gen_ai.operation.name': OPERATION[r.kind], 'gen_ai.provider.name': PROVIDER, 'infergate.request_id': r.requestId } },
          parent,
        );
      } else {
        // Named `{method}` until a rule matches (`resolved` adds its path as the route): the raw path may carry ids.
        const method = methodAttributes(r.method);
        server = tracer.startSpan(method.name, { kind: SpanKind.SERVER, startTime: r.receivedAt, attributes: { ...method.attributes, 'url.path': r.path, 'infergate.request_id': r.requestId } }, parent);
      }
      const sc = server.spanContext();
      if (isSpanContextValid(sc)) r.traceId = sc.traceId;
      r.trace = { context: trace.setSpan(parent, server), server } satisfies RequestSpans;
    },

    resolved(r) {
      const s = spans(r);
      if (!s || r.model === undefined) return;
      // A recorded trace shows the decision's score and profile: ask the scheduler to explain it.
      if (s.server.isRecording()) r.explain = true;
      if (r.kind === 'other') {
        if (r.route !== undefined) {
          s.server.updateName(`${methodAttributes(r.method).name} ${r.route}`);
          s.server.setAttribute('http.route', r.route);
        }
      } else {
        // Each attribute once (the SDK checks every one): the request's on the server span, the routing's on `route`.
        s.server.setAttribute('gen_ai.request.model', r.model);
        if (r.stream) s.server.setAttribute('gen_ai.request.stream', true);
      }
      tracer.startSpan('route', { startTime: r.receivedAt, attributes: routeAttributes(r) }, s.context).end(r.resolvedAt);
    },

    queued(r) {
      const s = spans(r);
      if (!s) return;
      s.admission = tracer.startSpan('admission', { startTime: r.queuedAt, attributes: { 'infergate.admission.queued': true, ...(r.queuedReason ? { 'infergate.admission.reason': r.queuedReason } : {}) } }, s.context);
    },

    decided(r, decision) {
      const s = spans(r);
      if (!s) return;
      if (decision.kind === 'shed' || s.admission) {
        const admission = s.admission ?? tracer.startSpan('admission', { startTime: r.resolvedAt || r.receivedAt }, s.context);
        admission.setAttribute('infergate.admission.outcome', decision.kind === 'shed' ? 'shed' : 'admitted');
        if (decision.kind === 'shed') admission.setAttributes({ 'infergate.admission.reason': decision.reason, 'infergate.admission.retry_after_seconds': decision.retryAfterSeconds });
        admission.end(r.decidedAt);
        s.admission = undefined;
        if (decision.kind === 'shed') return;
      }
      const start = r.queuedAt || r.resolvedAt || r.receivedAt;
      const schedule = tracer.startSpan('schedule', { startTime: start, attributes: scheduleAttributes(r, decision) }, s.context);
      if (decision.kind === 'unavailable') schedule.setStatus({ code: SpanStatusCode.ERROR, message: decision.reason });
      schedule.end(r.decidedAt);
    },

    attempt(r, endpoint, headers) {
      const s = spans(r);
      if (!s) return;
      // Still open: its pod broke off a streamed answer, which is continued on this one (retries and refusals end theirs).
      if (s.upstream) {
        s.upstream.setAttribute('error.type', 'broken');
        s.upstream.setStatus({ code: SpanStatusCode.ERROR, message: 'the answer was broken off and continued on another endpoint' });
        s.upstream.end();
      }
      const h2c = r.pool?.appProtocol === 'h2c';
      let upstream: Span;
      if (r.kind !== 'other') {
        const model = r.targetModel ?? r.model ?? '';
        upstream = tracer.startSpan(
          `${OPERATION[r.kind]} ${model}`,
          {
            kind: SpanKind.CLIENT,
            attributes: {
              'gen_ai.operation.name': OPERATION[r.kind],
              'gen_ai.provider.name': PROVIDER,
              'gen_ai.request.model': model,
              'server.address': endpoint.address,
              'server.port': endpoint.port,
              'http.request.method': 'POST',
              'url.path': r.path,
              'network.protocol.version': h2c ? '2' : '1.1',
              'infergate.upstream.client': h2c ? 'h2c' : options.upstreamClient,
              'infergate.attempt': r.attempts,
            },
          },
          s.context,
        );
      } else {
        // An HTTPRoute's own path: an HTTP client call, `{method}` (HTTP semconv), with no GenAI attribute.
        const method = methodAttributes(r.method);
        const attributes: Attributes = { ...method.attributes, 'server.address': endpoint.address, 'server.port': endpoint.port, 'url.path': r.path, 'network.protocol.version': h2c ? '2' : '1.1', 'infergate.upstream.client': h2c ? 'h2c' : options.upstreamClient, 'infergate.attempt': r.attempts };
        upstream = tracer.startSpan(method.name, { kind: SpanKind.CLIENT, attributes }, s.context);
      }
      s.upstream = upstream;
      // The model server continues this trace under the upstream span, not under the client's span.
      delete headers.traceparent;
      delete headers.tracestate;
      if (options.injectUpstream === false) return;
      propagator.inject(trace.setSpan(s.context, upstream), headers, { set: (carrier, key, value) => void (carrier[key] = value) });
    },

    attemptFailed(r, _endpoint, failure) {
      const s = spans(r);
      if (!s?.upstream) return;
      s.upstream.setAttribute('error.type', failure);
      s.upstream.setStatus({ code: SpanStatusCode.ERROR, message: `no answer: ${failure}` });
      s.upstream.end();
      s.upstream = undefined;
    },

    resumeFailed(r, _endpoint, reason) {
      const s = spans(r);
      if (!s?.upstream) return;
      if (typeof reason === 'number') {
        answered(s.upstream, reason);
        // A 200 that is not an event stream (or in a coding the gateway cannot read) cannot continue one either.
        if (reason < 400) {
          s.upstream.setAttribute('error.type', 'invalid');
          s.upstream.setStatus({ code: SpanStatusCode.ERROR, message: 'the answer was not an event stream the gateway can continue' });
        }
      } else {
        s.upstream.setAttribute('error.type', reason);
        s.upstream.setStatus({ code: SpanStatusCode.ERROR, message: `no answer: ${reason}` });
      }
      s.upstream.end();
      s.upstream = undefined;
    },

    retried(r, _endpoint, reason) {
      const s = spans(r);
      // A refused connection's span was ended by attemptFailed (error.type `connect`); an answer the gateway did not
      // pass on (429, 5xx) ends its span here, with its status, before the next endpoint is tried.
      if (!s?.upstream) return;
      const status = Number(reason);
      if (Number.isInteger(status) && status > 0) answered(s.upstream, status);
      else {
        s.upstream.setAttribute('error.type', reason);
        s.upstream.setStatus({ code: SpanStatusCode.ERROR });
      }
      s.upstream.end();
      s.upstream = undefined;
    },

    responded(r) {
      const s = spans(r);
      if (!s?.upstream) return;
      answered(s.upstream, r.status);
    },

    firstToken(r) {
      spans(r)?.upstream?.addEvent('first_token', { 'infergate.ttft_ms': r.firstTokenAt - r.receivedAt }, r.firstTokenAt);
    },

    finished(r) {
      const s = spans(r);
      if (!s) return;
      const attributes: Attributes = { 'http.response.status_code': r.status, 'infergate.outcome': r.end ?? 'served', 'infergate.retries': Math.max(0, r.attempts - 1) };
      const usage: Attributes = {};
      if (r.usage && r.kind !== 'other') {
        usage['gen_ai.usage.input_tokens'] = r.usage.input;
        usage['gen_ai.usage.output_tokens'] = r.usage.output;
        if (r.usage.cached !== undefined) usage['gen_ai.usage.cache_read.input_tokens'] = r.usage.cached;
      }
      if (r.kind !== 'other' && r.answered && r.targetModel !== undefined) usage['gen_ai.response.model'] = r.targetModel;
      if (r.errorCode) attributes['error.type'] = r.errorCode;
      if (s.upstream) {
        // The GenAI conventions put the usage on the inference call's span; the server span repeats it for queries by request.
        s.upstream.setAttributes(usage);
        // This attempt's own failure only: a refused connection before it (r.failure `connect`) was its own span's.
        if (r.failure === 'broken' || r.failure === 'aborted') s.upstream.setAttribute('error.type', r.failure);
        if (r.failure === 'broken') s.upstream.setStatus({ code: SpanStatusCode.ERROR });
        s.upstream.end(r.finishedAt);
      }
      s.server.setAttributes(attributes);
      s.server.setAttributes(usage);
      if (r.status >= 500 || r.status === 0) s.server.setStatus({ code: SpanStatusCode.ERROR, ...(r.errorCode ? { message: r.errorCode } : {}) });
      s.server.end(r.finishedAt);
      r.trace = undefined;
    },
  };
}

function routeAttributes(r: ObservedRequest): Attributes {
  const a: Attributes = {};
  if (r.targetModel !== undefined) a['infergate.target_model'] = r.targetModel;
  if (r.pool) a['infergate.pool'] = r.pool.name;
  if (r.objective) a['infergate.objective'] = r.objective;
  if (r.priority !== undefined) a['infergate.priority'] = r.priority;
  if (r.criticality) a['infergate.criticality'] = r.criticality;
  return a;
}

function scheduleAttributes(r: ObservedRequest, decision: Decision): Attributes {
  const a: Attributes = { 'infergate.scheduling.outcome': decision.kind, 'infergate.scheduling.profile': r.pool?.profile ?? 'default' };
  if (decision.kind === 'route') {
    a['infergate.endpoint'] = decision.endpoint.id;
    a['infergate.scheduling.fallbacks'] = decision.fallbacks.length;
  } else {
    a['infergate.scheduling.reason'] = decision.reason;
  }
  const e = decision.explain as { profile?: string; picker?: string; kernel?: string; considered?: number; saturation?: number; candidates?: { id: string; total: number }[] } | undefined;
  if (e) {
    if (e.profile) a['infergate.scheduling.profile'] = e.profile;
    if (e.picker) a['infergate.scheduling.picker'] = e.picker;
    if (e.kernel) a['infergate.scheduling.kernel'] = e.kernel;
    if (typeof e.considered === 'number') a['infergate.scheduling.candidates'] = e.considered;
    if (typeof e.saturation === 'number') a['infergate.scheduling.saturation'] = e.saturation;
    const picked = decision.kind === 'route' ? e.candidates?.find((c) => c.id === decision.endpoint.id) : undefined;
    if (picked && typeof picked.total === 'number') a['infergate.scheduling.score'] = picked.total;
  }
  return a;
}
