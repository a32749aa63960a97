import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { createClient, type Transport } from '@connectrpc/connect';
import * as node from '@connectrpc/connect-node';
import * as web from '@connectrpc/connect-web';
import { listen, listenWithGrpc, type Listening } from '../src/runtime/node/index.ts';
import { MetricsAgent } from '../src/agent/agent.ts';
import { createAgentApp } from '../src/agent/app.ts';
import type { MetricsGetter } from '../src/agent/http-get.ts';
import { scrapeGetter } from '../src/runtime/node/metrics-getter.ts';
import { watchPool } from '../src/agent/watch.ts';
import { EndpointService } from '../src/gen/infergate/v1/endpoint_pb.ts';

/** A pod whose vLLM queue the test sets. */
async function fakePod() {
  const state = { waiting: 0, status: 200 };
  const app = new Hono();
  app.get('/metrics', (c) =>
    c.text(`# TYPE vllm:num_requests_waiting gauge\nvllm:num_requests_waiting{model_name="m"} ${state.waiting}\nvllm:num_requests_running{model_name="m"} 1\n`, state.status as 200),
  );
  const server = await listen(app.fetch, 0);
  return { state, server };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('agent over the wire', () => {
  let pod: Awaited<ReturnType<typeof fakePod>>;
  let agent: MetricsAgent;
  let server: Listening;
  let baseUrl: string;
  const get = scrapeGetter();

  beforeAll(async () => {
    pod = await fakePod();
    agent = new MetricsAgent({ get, scrapeIntervalMs: 50 });
    agent.setEntries([
      { address: '127.0.0.1', port: pod.server.port, labels: { pool: 'gemma3' }, engine: 'vllm' },
      { address: '127.0.0.1', port: 1, labels: { pool: 'other' }, engine: 'vllm' },
    ]);
    agent.start();
    const { app, routes } = createAgentApp(agent);
    server = await listenWithGrpc(app.fetch, routes, 0);
    baseUrl = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    agent.stop();
    await server.close();
    await pod.server.close();
    await get.close();
  });

  const transports: [string, () => Transport][] = [
    ['connect-node Connect over HTTP/1.1', () => node.createConnectTransport({ baseUrl, httpVersion: '1.1' })],
    ['connect-node gRPC-Web over HTTP/1.1', () => node.createGrpcWebTransport({ baseUrl, httpVersion: '1.1' })],
    ['connect-node plain gRPC over h2c', () => node.createGrpcTransport({ baseUrl })],
    ['connect-web Connect (fetch)', () => web.createConnectTransport({ baseUrl })],
    ['connect-web gRPC-Web (fetch)', () => web.createGrpcWebTransport({ baseUrl })],
  ];

  for (const [name, transport] of transports) {
    it(`${name}: first snapshot at once, the queue growing within 200 ms`, async () => {
      pod.state.waiting = 0;
      await sleep(120);
      const client = createClient(EndpointService, transport());
      const abort = new AbortController();
      const started = Date.now();
      const stream = client.watchEndpoints({ selector: { pool: 'gemma3' }, targetPorts: [8000] }, { signal: abort.signal });
      let grewAt = 0;
      let first = true;
      try {
        for await (const msg of stream) {
          const eps = msg.snapshot!.endpoints;
          if (first) {
            expect(Date.now() - started).toBeLessThan(500);
            expect(eps.map((e) => e.id)).toEqual([`127.0.0.1:${pod.server.port}`]);
            first = false;
            pod.state.waiting = 7;
            grewAt = Date.now();
            continue;
          }
          if (eps[0]!.metrics?.waiting === 7) break;
        }
      } finally {
        abort.abort();
      }
      expect(Date.now() - grewAt).toBeLessThan(200);
    });
  }

  it('GetEndpoints answers once; invalid ports are refused with invalid_argument', async () => {
    const client = createClient(EndpointService, node.createConnectTransport({ baseUrl, httpVersion: '1.1' }));
    const res = await client.getEndpoints({ selector: { pool: 'gemma3' }, targetPorts: [] });
    expect(res.snapshot!.endpoints).toHaveLength(1);
    await expect(client.getEndpoints({ selector: {}, targetPorts: [0] })).rejects.toThrow(/invalid_argument|must be 1-65535/);
  });

  it('a pod whose scrapes fail is marked (last error, not ready), not dropped', async () => {
    const client = createClient(EndpointService, node.createConnectTransport({ baseUrl, httpVersion: '1.1' }));
    const res = await client.getEndpoints({ selector: { pool: 'other' }, targetPorts: [] });
    const ep = res.snapshot!.endpoints[0]!;
    expect(ep.id).toBe('127.0.0.1:1');
    expect(ep.ready).toBe(false);
    expect(ep.lastError).toMatch(/ECONNREFUSED|refused|connect/i);
    expect(ep.metrics).toBeUndefined();
  });
});

describe('agent scheduling and backpressure', () => {
  it('no pile-up: a slow pod has at most one scrape outstanding', async () => {
    let calls = 0;
    let outstanding = 0;
    let maxOutstanding = 0;
    const slow: MetricsGetter = async () => {
      calls++;
      maxOutstanding = Math.max(maxOutstanding, ++outstanding);
      await sleep(300);
      outstanding--;
      return 'vllm:num_requests_waiting 1\n';
    };
    const agent = new MetricsAgent({ get: slow, scrapeIntervalMs: 20, scrapeTimeoutMs: 1000 });
    agent.setEntries([{ address: '10.0.0.1', port: 8000, labels: {}, engine: 'vllm' }]);
    agent.start();
    await sleep(700);
    agent.stop();
    expect(maxOutstanding).toBe(1);
    expect(calls).toBeLessThanOrEqual(3);
    expect(agent.stats.skipped).toBeGreaterThan(10);
  });

  it('coalesces: no faster than the scrape interval even when every scrape changes', async () => {
    let n = 0;
    const agent = new MetricsAgent({ get: async () => `vllm:num_requests_waiting ${n++}\n`, scrapeIntervalMs: 10 });
    agent.setEntries([1, 2, 3, 4].map((i) => ({ address: `10.0.0.${i}`, port: 8000, labels: {}, engine: 'vllm' as const })));
    agent.start();
    const abort = new AbortController();
    const times: number[] = [];
    setTimeout(() => abort.abort(), 500);
    for await (const _ of watchPool(agent, { selector: {}, targetPorts: [8000] }, abort.signal, { minIntervalMs: 50 })) times.push(Date.now());
    agent.stop();
    expect(times.length).toBeGreaterThanOrEqual(5);
    expect(times.length).toBeLessThanOrEqual(12);
    for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBeGreaterThanOrEqual(45);
  });

  it('a slow subscriber gets the latest snapshot, not a backlog, and stalls neither scraping nor others', async () => {
    let n = 0;
    const agent = new MetricsAgent({ get: async () => `vllm:num_requests_waiting ${++n}\n`, scrapeIntervalMs: 10 });
    agent.setEntries([{ address: '10.0.0.1', port: 8000, labels: {}, engine: 'vllm' }]);
    agent.start();
    const abort = new AbortController();
    const slow = watchPool(agent, { selector: {}, targetPorts: [] }, abort.signal, { minIntervalMs: 10 });
    const fast = watchPool(agent, { selector: {}, targetPorts: [] }, abort.signal, { minIntervalMs: 10 });
    await slow.next(); // then it stops reading for a while
    let fastCount = 0;
    const fastDone = (async () => {
      for await (const _ of fast) fastCount++;
    })();
    const scrapesBefore = agent.stats.scrapes;
    await sleep(400);
    const scrapesDuring = agent.stats.scrapes - scrapesBefore;
    const next = await slow.next();
    const latest = n;
    abort.abort();
    await fastDone;
    agent.stop();
    expect(scrapesDuring).toBeGreaterThan(20);
    expect(fastCount).toBeGreaterThan(10);
    expect(next.value!.endpoints[0]!.metrics!.waiting).toBeGreaterThanOrEqual(latest - 1);
  });
});
