/**
 * The director without sockets: the data-plane app driven by `app.request()`,
 * a fake upstream client standing for the model servers, a fixed endpoint
 * list, the real routing table, picker (TypeScript twin kernel) and proxy.
 */
import { describe, expect, it } from 'vitest';
import type { Endpoint, EndpointSource, PoolRef } from '../endpoints/types.ts';
import { byProtocol, UpstreamError, type UpstreamClient, type UpstreamRequest, type UpstreamResponse } from '../http/upstream.ts';
import { RoutingTableStore } from '../routing/store.ts';
import { createScheduler } from '../scheduling/index.ts';
import { LocalScheduling } from '../scheduling/local.ts';
import { createDataPlaneApp } from './data-plane-app.ts';
import { Gateway } from './gateway.ts';

type Reply = (req: UpstreamRequest) => UpstreamResponse | Promise<UpstreamResponse>;

/** The model servers, faked: each endpoint (`address:port`) answers with its reply, or refuses. */
function fakeUpstream(replies: Record<string, Reply | 'refuse'>) {
  const sent: UpstreamRequest[] = [];
  const client: UpstreamClient = {
    async request(req) {
      sent.push(req);
      const reply = replies[req.origin.slice('http://'.length)];
      if (!reply || reply === 'refuse') throw new UpstreamError('connect', 'connection refused');
      return reply(req);
    },
  };
  return { client, sent };
}

const json = (status: number, value: unknown): UpstreamResponse => {
  const bytes = new TextEncoder().encode(JSON.stringify(value));
  return {
    status,
    headers: new Headers({ 'content-type': 'application/json' }),
    body: { bytes: async () => bytes, stream: () => new Response(bytes).body!, cancel: () => {} },
  };
};

function endpoints(list: Array<Partial<Endpoint> & { port: number; pool: string }>, scrapedAt?: number): EndpointSource {
  const all: Endpoint[] = list.map((e) => ({
    id: `10.0.0.1:${e.port}`,
    address: '10.0.0.1',
    port: e.port,
    labels: { pool: e.pool },
    ready: e.ready ?? true,
    engine: 'vllm',
    ...(scrapedAt !== undefined ? { scrapedAt, metrics: { waiting: 0, running: 0, kvUsage: 0, activeAdapters: [], waitingAdapters: [], maxAdapters: 0, blockSize: 16, totalBlocks: 0 } } : {}),
  }));
  return {
    snapshot: (pool: PoolRef) => ({ pool: pool.name, endpoints: all.filter((e) => e.labels.pool === pool.selector.pool), at: Date.now(), hasMetrics: scrapedAt !== undefined }),
    notReadyReason: () => undefined,
    close: () => {},
  };
}

const TABLE = {
  routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
  pools: [
    { name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' as const },
    { name: 'closed', selector: { pool: 'closed' }, targetPorts: [8000], failureMode: 'FailClose' as const },
  ],
  models: [{ name: 'bot', pool: 'p', targetModels: [{ name: 'bot-lora' }] }],
};

function director(source: EndpointSource, upstream: UpstreamClient, table: unknown = TABLE) {
  const store = new RoutingTableStore();
  if (table) expect(store.apply(table).ok).toBe(true);
  const scheduler = createScheduler();
  const scheduling = new LocalScheduling(source, scheduler, { staleAfterMs: scheduler.staleAfterMs, now: Date.now });
  const gateway = new Gateway({ table: store, scheduling, upstream, log: () => {} });
  const app = createDataPlaneApp(gateway);
  const chat = (body: unknown, headers: Record<string, string> = {}) =>
    app.request('/v1/chat/completions', { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });
  return { app, chat };
}

const hello = { model: 'bot', messages: [{ role: 'user', content: 'hi' }] };

describe('the director', () => {
  it('sends the target model upstream and restores the asked-for name in the answer', async () => {
    const up = fakeUpstream({ '10.0.0.1:8000': (req) => json(200, { id: 'x', model: JSON.parse(new TextDecoder().decode(req.body)).model }) });
    const { chat } = director(endpoints([{ port: 8000, pool: 'p' }]), up.client);
    const res = await chat(hello);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ id: 'x', model: 'bot' });
    expect(JSON.parse(new TextDecoder().decode(up.sent[0]!.body)).model).toBe('bot-lora');
    expect(res.headers.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8000');
    expect(up.sent[0]!.headers['x-request-id']).toBe(res.headers.get('x-request-id'));
  });

  it('asks for identity when the model will be restored, and decodes a pod that gzips anyway', async () => {
    const gz = async (text: string) => new Uint8Array(await new Response(new Blob([text]).stream().pipeThrough(new CompressionStream('gzip'))).arrayBuffer());
    const body = await gz(JSON.stringify({ id: 'x', model: 'bot-lora' }));
    const sse = await gz('data: {"model":"bot-lora","choices":[]}\n\ndata: [DONE]\n\n');
    const reply = (bytes: Uint8Array, type: string): UpstreamResponse => ({
      status: 200,
      headers: new Headers({ 'content-type': type, 'content-encoding': 'gzip' }),
      body: { bytes: async () => bytes, stream: (onEnd) => new Response(bytes as BodyInit).body!.pipeThrough(new TransformStream({ flush: () => onEnd() })), cancel: () => {} },
    });
    const up = fakeUpstream({ '10.0.0.1:8000': (req) => (JSON.parse(new TextDecoder().decode(req.body)).stream ? reply(sse, 'text/event-stream') : reply(body, 'application/json')) });
    const { chat } = director(endpoints([{ port: 8000, pool: 'p' }]), up.client);
    const res = await chat(hello, { 'accept-encoding': 'gzip, br' });
    expect(up.sent[0]!.headers['accept-encoding']).toBe('identity');
    expect(res.headers.get('content-encoding')).toBeNull();
    expect(await res.json()).toEqual({ id: 'x', model: 'bot' });
    const streamed = await chat({ ...hello, stream: true });
    expect(streamed.headers.get('content-encoding')).toBeNull();
    expect(await streamed.text()).toBe('data: {"model":"bot","choices":[]}\n\ndata: [DONE]\n\n');
  });

  it('tries the next endpoint when one refuses, and answers 502 when all do', async () => {
    const ok = fakeUpstream({ '10.0.0.1:8000': 'refuse', '10.0.0.1:8001': () => json(200, { model: 'bot-lora' }) });
    const one = director(endpoints([{ port: 8000, pool: 'p' }, { port: 8001, pool: 'p' }]), ok.client);
    // Whichever the picker chose first, the answer comes from the endpoint that accepts.
    for (let i = 0; i < 4; i++) expect((await one.chat(hello)).headers.get('x-gateway-destination-endpoint')).toBe('10.0.0.1:8001');

    const dead = fakeUpstream({});
    const res = await director(endpoints([{ port: 8000, pool: 'p' }, { port: 8001, pool: 'p' }]), dead.client).chat(hello);
    expect(res.status).toBe(502);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe('upstream_unavailable');
  });

  it('answers every problem OpenAI-shaped, with the status that fits', async () => {
    const up = fakeUpstream({ '10.0.0.1:8000': () => json(200, {}) });
    const { chat, app } = director(endpoints([{ port: 8000, pool: 'p' }]), up.client);
    const cases: Array<[Response, number, string]> = [
      [await chat('{not json'), 400, 'invalid_json'],
      [await chat({ model: 'bot' }), 400, 'missing_required_parameter'],
      [await chat({ ...hello, model: 'nobody' }), 404, 'model_not_found'],
      [await app.request('/v2/nothing'), 404, 'unknown_url'],
      [await director(endpoints([]), up.client, null).chat(hello), 503, 'no_routes_configured'],
    ];
    for (const [res, status, code] of cases) {
      expect(res.status).toBe(status);
      expect(res.headers.get('x-infergate-error-origin')).toBe('gateway');
      expect(((await res.json()) as { error: { code: string } }).error.code).toBe(code);
    }
    expect(up.sent).toHaveLength(0);
  });

  it('is ready while a FailOpen pool can route without metrics, and says what is degraded', async () => {
    const { app } = director(endpoints([{ port: 8000, pool: 'p' }]), fakeUpstream({}).client);
    const res = await app.request('/readyz');
    expect(res.status).toBe(200);
    expect(JSON.stringify(await res.json())).toContain('FailOpen');
  });

  it('is not ready when no pool can route: no table, or only FailClose pools without fresh metrics', async () => {
    expect((await director(endpoints([]), fakeUpstream({}).client, null).app.request('/readyz')).status).toBe(503);
    const closedOnly = { ...TABLE, routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'closed' }] }] }], pools: [TABLE.pools[1]!], models: [] };
    const stale = director(endpoints([{ port: 8000, pool: 'closed' }], Date.now() - 60_000), fakeUpstream({}).client, closedOnly);
    const res = await stale.app.request('/readyz');
    expect(res.status).toBe(503);
    expect(((await res.json()) as { reason: string }).reason).toContain('FailClose');
    const fresh = director(endpoints([{ port: 8000, pool: 'closed' }], Date.now()), fakeUpstream({}).client, closedOnly);
    expect((await fresh.app.request('/readyz')).status).toBe(200);
  });

  it('sends a request for an h2c pool with protocol h2c, and where the runtime has no h2c client answers 502 saying so, nothing sent', async () => {
    const h2cTable = { ...TABLE, pools: [{ ...TABLE.pools[0]!, appProtocol: 'h2c' as const }, TABLE.pools[1]!] };
    const h2c = fakeUpstream({ '10.0.0.1:8000': () => json(200, { model: 'bot-lora' }) });
    const http = fakeUpstream({ '10.0.0.1:8000': () => json(200, { model: 'bot-lora' }) });
    const node = director(endpoints([{ port: 8000, pool: 'p' }]), byProtocol({ http: http.client, h2c: h2c.client, runtime: 'Node' }), h2cTable);
    expect((await node.chat(hello)).status).toBe(200);
    expect(h2c.sent.map((r) => r.protocol)).toEqual(['h2c']);
    expect(http.sent).toHaveLength(0);

    const workers = director(endpoints([{ port: 8000, pool: 'p' }]), byProtocol({ http: http.client, runtime: 'Workers' }), h2cTable);
    const res = await workers.chat(hello);
    expect(res.status).toBe(502);
    const body = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error.code).toBe('upstream_protocol_unsupported');
    expect(body.error.message).toContain('Workers cannot speak HTTP/2 cleartext');
    expect(body.error.message).toContain('appProtocol http');
    expect(http.sent).toHaveLength(0);
    // An HTTP/1.1 pool on the same runtime is served as before.
    const plain = director(endpoints([{ port: 8000, pool: 'p' }]), byProtocol({ http: http.client, runtime: 'Workers' }));
    expect((await plain.chat(hello)).status).toBe(200);
    expect(http.sent.map((r) => r.protocol)).toEqual(['http']);
  });
});
