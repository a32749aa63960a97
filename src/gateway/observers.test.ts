/**
 * What traces and the access log say of requests played through the real
 * director and proxy (the data-plane app driven by `app.request()`, a fake
 * scheduler and model servers): the request's own method and route, a
 * retried attempt's span, the GenAI provider, and the access-log fields of
 * errors the gateway answers itself.
 */
import { SpanStatusCode } from '@opentelemetry/api';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { InMemorySpanExporter, SimpleSpanProcessor, TracerProvider, type ReadableSpan } from '@opentelemetry/sdk-trace';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../endpoints/types.ts';
import { UpstreamError, type UpstreamClient, type UpstreamResponse } from '../http/upstream.ts';
import { accessLog } from '../observability/access-log.ts';
import { tracingObserver } from '../observability/tracing.ts';
import { RoutingTableStore } from '../routing/store.ts';
import type { Pool } from '../routing/schema.ts';
import type { EndpointScheduling } from '../scheduling/endpoint-scheduling.ts';
import type { Decision, SchedulingRequest } from '../scheduling/scheduler.ts';
import { createDataPlaneApp } from './data-plane-app.ts';
import { Gateway } from './gateway.ts';

const endpoint = (port: number): Endpoint => ({ id: `10.0.0.1:${port}`, address: '10.0.0.1', port, labels: { pool: 'p' }, ready: true, engine: 'vllm' });
const FIRST = endpoint(8001);
const SECOND = endpoint(8002);

/** Pool p routes to FIRST then SECOND; pool `closed` has no endpoint; model `batch` is shed. */
const scheduling: EndpointScheduling = {
  pick(pool: Pool, request: SchedulingRequest): Decision {
    if (request.requestedModel === 'batch') return { kind: 'shed', reason: 'pool saturated', retryAfterSeconds: 1 };
    if (pool.name === 'closed') return { kind: 'unavailable', reason: 'no ready endpoint' };
    return { kind: 'route', endpoint: FIRST, fallbacks: [SECOND] };
  },
  dispatched: () => {},
  firstToken: () => {},
  completed: () => {},
  readiness: () => ({ ready: true }),
};

const TABLE = {
  routes: [
    { name: 'closed', rules: [{ matches: [{ headers: [{ name: 'x-pool', value: 'closed' }] }], backendRefs: [{ pool: 'closed' }] }] },
    { name: 'health', rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/health' } }], backendRefs: [{ pool: 'p' }] }] },
    { name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] },
  ],
  pools: [
    { name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' as const },
    { name: 'closed', selector: { pool: 'closed' }, targetPorts: [8000], failureMode: 'FailOpen' as const },
  ],
  models: [
    { name: 'bot', pool: 'p', targetModels: [{ name: 'bot-lora' }] },
    { name: 'batch', pool: 'p', criticality: 'Sheddable' as const },
  ],
};

const reply = (status: number, value: unknown): UpstreamResponse => {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return { status, headers: new Headers({ 'content-type': 'application/json' }), body: { bytes: async () => bytes, stream: () => new Response(bytes).body!, cancel: () => {} } };
};

/** A streamed answer: one chunk then a reset (`broken`), or the whole answer. */
const streamed = (broken: boolean): UpstreamResponse => {
  const chunk = (delta: Record<string, unknown>, finish: string | null = null) => `data: ${JSON.stringify({ id: 'c1', object: 'chat.completion.chunk', model: 'bot-lora', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
  const events = broken ? [chunk({ role: 'assistant', content: 'Hel' })] : [chunk({ content: 'lo' }), chunk({}, 'stop'), 'data: [DONE]\n\n'];
  const stream = () =>
    new ReadableStream<Uint8Array>({
      start(controller) {
        for (const e of events) controller.enqueue(new TextEncoder().encode(e));
        if (broken) controller.error(new Error('connection reset'));
        else controller.close();
      },
    });
  return { status: 200, headers: new Headers({ 'content-type': 'text/event-stream' }), body: { bytes: async () => new Uint8Array(), stream, cancel: () => {} } };
};

/** Each endpoint's answer: a status, `refuse` (connection refused), or a stream (`break`: broken off after its first chunk). */
function upstream(answers: Record<number, number | 'refuse' | 'stream' | 'break'>): UpstreamClient {
  return {
    async request(req) {
      const answer = answers[Number(req.origin.split(':').at(-1))];
      if (answer === undefined || answer === 'refuse') throw new UpstreamError('connect', 'connection refused');
      if (answer === 'stream' || answer === 'break') return streamed(answer === 'break');
      return reply(answer, { model: 'bot-lora', usage: { prompt_tokens: 3, completion_tokens: 2, total_tokens: 5 } });
    },
  };
}

let exporter: InMemorySpanExporter;
let provider: TracerProvider;
let lines: Record<string, unknown>[];

function gateway(answers: Record<number, number | 'refuse' | 'stream' | 'break'>, options: { bodyLimit?: number } = {}) {
  exporter = new InMemorySpanExporter();
  provider = new TracerProvider({ spanProcessors: [new SimpleSpanProcessor({ exporter })] });
  lines = [];
  const store = new RoutingTableStore();
  expect(store.apply(TABLE).ok).toBe(true);
  const observers = [tracingObserver({ tracer: provider.getTracer('test'), propagator: new W3CTraceContextPropagator(), upstreamClient: 'test' }), accessLog({ write: (l) => lines.push(JSON.parse(l) as Record<string, unknown>) })];
  const gw = new Gateway({ table: store, scheduling, upstream: upstream(answers), log: () => {}, observers }, options);
  const app = createDataPlaneApp(gw);
  const send = (path: string, init: { method?: string; body?: unknown; headers?: Record<string, string> } = {}) =>
    app.request(path, { method: init.method ?? 'POST', headers: { 'content-type': 'application/json', ...init.headers }, ...(init.body === undefined ? {} : { body: typeof init.body === 'string' ? init.body : JSON.stringify(init.body) }) });
  return { send, metrics: () => gw.metrics.render() };
}

const hello = { model: 'bot', messages: [{ role: 'user', content: 'hi' }] };
/** The spans ended so far (the processor exports each one asynchronously). */
async function spans(): Promise<ReadableSpan[]> {
  await provider.forceFlush();
  return exporter.getFinishedSpans();
}
const named = async (name: string) => (await spans()).filter((s) => s.name === name);
const genAi = (s: ReadableSpan) => Object.keys(s.attributes).filter((k) => k.startsWith('gen_ai.'));

describe('traces of requests through the director', () => {
  it('ends a retried attempt’s CLIENT span with its status, error.type and Error; the answered one is clean', async () => {
    const { send } = gateway({ 8001: 503, 8002: 200 });
    expect((await send('/v1/chat/completions', { body: hello })).status).toBe(200);
    const [first, second] = await named('chat bot-lora');
    expect(first!.attributes).toMatchObject({ 'http.response.status_code': 503, 'error.type': '503', 'server.port': 8001, 'infergate.attempt': 1 });
    expect(first!.status.code).toBe(SpanStatusCode.ERROR);
    expect(second!.attributes).toMatchObject({ 'http.response.status_code': 200, 'server.port': 8002, 'infergate.attempt': 2 });
    expect(second!.attributes['error.type']).toBeUndefined();
    expect(second!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('marks a refused attempt `connect`, and not the attempt that answered after it', async () => {
    const { send } = gateway({ 8001: 'refuse', 8002: 200 });
    expect((await send('/v1/chat/completions', { body: hello })).status).toBe(200);
    const [refused, answered] = await named('chat bot-lora');
    expect(refused!.attributes['error.type']).toBe('connect');
    expect(refused!.status.code).toBe(SpanStatusCode.ERROR);
    expect(answered!.attributes['error.type']).toBeUndefined();
    expect(answered!.attributes['http.response.status_code']).toBe(200);
  });

  it('ends a broken stream’s span as broken, and gives the span of the endpoint that continued it its status', async () => {
    const { send } = gateway({ 8001: 'break', 8002: 'stream' });
    const res = await send('/v1/chat/completions', { body: { ...hello, stream: true } });
    const text = await res.text();
    expect(text).toContain('[DONE]');
    const [broken, continued] = await named('chat bot-lora');
    expect(broken!.attributes).toMatchObject({ 'server.port': 8001, 'error.type': 'broken' });
    expect(broken!.status.code).toBe(SpanStatusCode.ERROR);
    expect(continued!.attributes).toMatchObject({ 'server.port': 8002, 'http.response.status_code': 200 });
    expect(continued!.attributes['error.type']).toBeUndefined();
    expect(continued!.status.code).toBe(SpanStatusCode.UNSET);
  });

  it('ends the span of an endpoint that could not continue a broken stream with its own reason', async () => {
    for (const [answer, attributes] of [
      ['refuse', { 'error.type': 'connect' }],
      [503, { 'http.response.status_code': 503, 'error.type': '503' }],
      [200, { 'http.response.status_code': 200, 'error.type': 'invalid' }],
    ] as const) {
      const { send, metrics } = gateway({ 8001: 'break', 8002: answer });
      const text = await (await send('/v1/chat/completions', { body: { ...hello, stream: true } })).text();
      expect(text, String(answer)).toContain('no other pod could continue it');
      const [broken, continuation] = await named('chat bot-lora');
      expect(broken!.attributes).toMatchObject({ 'server.port': 8001, 'error.type': 'broken' });
      expect(continuation!.attributes, String(answer)).toMatchObject({ 'server.port': 8002, ...attributes });
      expect(continuation!.status.code).toBe(SpanStatusCode.ERROR);
      // A refused connection is one of the pool's refusals, on the way to an answer or while continuing one.
      expect(metrics()).toContain(`infergate_upstream_refused_total{pool="p"} ${answer === 'refuse' ? 1 : 0}`);
    }
  });

  it('sets gen_ai.provider.name on the inference spans', async () => {
    const { send } = gateway({ 8001: 200 });
    await send('/v1/chat/completions', { body: hello });
    expect((await named('POST /v1/chat/completions'))[0]!.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.operation.name': 'chat', 'http.route': '/v1/chat/completions' });
    expect((await named('chat bot-lora'))[0]!.attributes).toMatchObject({ 'gen_ai.provider.name': 'openai', 'gen_ai.request.model': 'bot-lora' });
  });

  it('names an HTTPRoute path’s spans by its method and the rule’s path, with no GenAI attribute', async () => {
    const { send } = gateway({ 8001: 200 });
    expect((await send('/health/abc123', { method: 'GET' })).status).toBe(200);
    const server = (await named('GET /health'))[0]!;
    expect(server.attributes).toMatchObject({ 'http.request.method': 'GET', 'http.route': '/health', 'url.path': '/health/abc123', 'http.response.status_code': 200 });
    const client = (await named('GET'))[0]!;
    expect(client.attributes).toMatchObject({ 'http.request.method': 'GET', 'server.port': 8001, 'url.path': '/health/abc123' });
    for (const s of await spans()) expect(genAi(s), s.name).toEqual([]);
    expect((await spans()).some((s) => s.name.startsWith('other') || s.name.startsWith('POST'))).toBe(false);
  });

  it('names a request no rule matched by its method alone, without http.route', async () => {
    const { send } = gateway({});
    expect((await send('/nothing/42', { method: 'DELETE' })).status).toBe(404);
    const server = (await named('DELETE'))[0]!;
    expect(server.attributes['http.route']).toBeUndefined();
    expect(server.attributes['http.request.method']).toBe('DELETE');
    expect(genAi(server)).toEqual([]);
  });
});

describe('the access log of requests through the director', () => {
  it('has the request’s method', async () => {
    const { send } = gateway({ 8001: 200 });
    await send('/health/abc123', { method: 'GET' });
    await send('/v1/chat/completions', { body: hello });
    expect(lines.map((l) => `${l.method} ${l.path} ${l.status}`)).toEqual(['GET /health/abc123 200', 'POST /v1/chat/completions 200']);
  });

  it('has errorCode, responseBytes, the model asked for and requestBytes on every error the gateway answers', async () => {
    const { send } = gateway({});
    const cases: Array<[string, { body: unknown; headers?: Record<string, string> }, number, string, string | undefined]> = [
      ['no ready endpoint', { body: hello, headers: { 'x-pool': 'closed' } }, 503, 'no_ready_endpoint', 'bot'],
      ['shed', { body: { ...hello, model: 'batch' } }, 429, 'pool_saturated', 'batch'],
      ['unknown model', { body: { ...hello, model: 'nobody' } }, 404, 'model_not_found', 'nobody'],
      ['unknown model by header', { body: { messages: hello.messages }, headers: { 'x-gateway-model-name': 'ghost' } }, 404, 'model_not_found', 'ghost'],
      ['missing messages', { body: { model: 'bot' } }, 400, 'missing_required_parameter', 'bot'],
      ['malformed JSON', { body: '{not json' }, 400, 'invalid_json', undefined],
      ['every endpoint refused', { body: hello }, 502, 'upstream_unavailable', 'bot'],
    ];
    for (const [what, request, status, code, model] of cases) {
      const res = await send('/v1/chat/completions', request);
      const written = new TextEncoder().encode(await res.text()).byteLength;
      const sent = new TextEncoder().encode(typeof request.body === 'string' ? request.body : JSON.stringify(request.body)).byteLength;
      expect(res.status, what).toBe(status);
      const line = lines.at(-1)!;
      expect(line, what).toMatchObject({ status, errorCode: code, responseBytes: written, requestBytes: sent });
      expect(line.model, what).toBe(model);
    }
  });

  it('has the size a body refused as too large declared (it was not read), or at least the limit when it declared none', async () => {
    const { send } = gateway({}, { bodyLimit: 100 });
    const big = JSON.stringify({ ...hello, messages: [{ role: 'user', content: 'x'.repeat(300) }] });
    const declared = await send('/v1/chat/completions', { body: big, headers: { 'content-length': String(big.length) } });
    expect(declared.status).toBe(413);
    expect(lines.at(-1)).toMatchObject({ status: 413, errorCode: 'request_too_large', requestBytes: big.length });
    const undeclared = await send('/v1/chat/completions', { body: big });
    expect(undeclared.status).toBe(413);
    expect(lines.at(-1)).toMatchObject({ status: 413, requestBytes: 101 });
  });
});
