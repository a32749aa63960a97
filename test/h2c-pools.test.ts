/**
 * A pool whose port says `appProtocol: kubernetes.io/h2c` (an InferencePool
 * field of today's Inference Extension), over real sockets: model-server
 * doubles that speak only HTTP/2 cleartext, the gateway on Node with its
 * embedded agent and with a remote agent (the pool's protocol travels in the
 * WatchEndpoints request), the official `openai` client in front. The pods
 * are scraped over h2c and serve JSON and streamed answers; a pool of
 * HTTP/1.1 pods beside it is untouched.
 */
import { writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import { listenWithGrpc, type Listening } from '../src/runtime/node/index.ts';
import { MetricsAgent } from '../src/agent/agent.ts';
import { createAgentApp } from '../src/agent/app.ts';
import { scrapeGetter } from '../src/runtime/node/metrics-getter.ts';
import { writeEndpointsFile } from './harness.ts';
import { h2cPoolManifests } from './h2c-manifests.ts';
import { COMPLETION_TOKENS, startUsagePod, type UsagePod } from './usage-pod.ts';

const MANIFESTS = h2cPoolManifests;

let h2cPods: UsagePod[];
let httpPod: UsagePod;
let manifests: string;
let endpointsFile: string;

beforeAll(async () => {
  h2cPods = [await startUsagePod({ waiting: 0, running: 1, kvUsage: 0.1 }, { h2c: true }), await startUsagePod({ waiting: 0, running: 1, kvUsage: 0.1 }, { h2c: true })];
  httpPod = await startUsagePod();
  // Port-less entries: the pool's targetPorts name the ports, as Kubernetes pods are found.
  endpointsFile = writeEndpointsFile([
    { address: '127.0.0.1', labels: { app: 'h2c-server' }, engine: 'vllm' },
    { address: '127.0.0.1', port: httpPod.port, labels: { app: 'http-server' }, engine: 'vllm' },
  ]);
  manifests = join(dirname(endpointsFile), 'manifests.yaml');
  writeFileSync(manifests, MANIFESTS(h2cPods.map((p) => p.port), [httpPod.port]));
});

afterAll(async () => {
  await Promise.all([...(h2cPods ?? []), httpPod].filter(Boolean).map((p) => p.close()));
});

/** What every way of running the gateway must do with the h2c pool. */
function servesH2cPool(gateway: () => RunningGateway) {
  it('scrapes the h2c pods over HTTP/2 and routes to them with fresh metrics', async () => {
    const g = gateway();
    const pool = g.store.current!.pools.get('grpc-native')!;
    expect(pool.appProtocol).toBe('h2c');
    for (let i = 0; i < 200; i++) {
      const seen = g.endpoints.snapshot(pool).endpoints;
      if (seen.length === 2 && seen.every((e) => e.ready && e.metrics && !e.lastError)) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const seen = g.endpoints.snapshot(pool).endpoints;
    expect(seen.map((e) => e.port).sort()).toEqual(h2cPods.map((p) => p.port).sort());
    for (const e of seen) expect(e, JSON.stringify(e)).toMatchObject({ ready: true, metrics: { running: 1 } });
    for (const p of h2cPods) expect(p.versions.length).toBeGreaterThan(0);
    for (const p of h2cPods) expect(new Set(p.versions)).toEqual(new Set(['2.0']));
  });

  it('answers JSON and streamed completions from the h2c pods, the model and usage intact', async () => {
    const client = new OpenAI({ baseURL: `${gateway().url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const before = h2cPods.map((p) => p.received.length);
    const answer = await client.chat.completions.create({ model: 'llama-h2', messages: [{ role: 'user', content: 'hello over h2' }] });
    expect(answer.model).toBe('llama-h2');
    expect(answer.choices[0]!.message.content).toBe('ok ok');
    expect(answer.usage?.completion_tokens).toBe(COMPLETION_TOKENS);
    const stream = await client.chat.completions.create({ model: 'llama-h2', messages: [{ role: 'user', content: 'stream over h2' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? '';
      usage ??= chunk.usage;
      expect(chunk.model).toBe('llama-h2');
    }
    expect(text).toBe('t0t1t2');
    expect(usage?.completion_tokens).toBe(COMPLETION_TOKENS);
    const sent = h2cPods.flatMap((p, i) => p.received.slice(before[i]));
    expect(sent).toHaveLength(2);
    for (const r of sent) {
      expect(r.httpVersion).toBe('2.0');
      expect(r.headers[':authority']).toBe(new URL(gateway().url).host);
      expect(r.headers['x-request-id']).toBeTruthy();
      for (const banned of ['connection', 'keep-alive', 'transfer-encoding']) expect(r.headers[banned]).toBeUndefined();
    }
  });

  it('serves the HTTP/1.1 pool beside it over HTTP/1.1', async () => {
    const client = new OpenAI({ baseURL: `${gateway().url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const before = httpPod.received.length;
    const answer = await client.chat.completions.create({ model: 'plain', messages: [{ role: 'user', content: 'hi' }] });
    expect(answer.model).toBe('plain');
    expect(httpPod.received.slice(before).map((r) => r.httpVersion)).toEqual(['1.1']);
  });
}

describe('an h2c pool, gateway with its embedded agent', () => {
  let gateway: RunningGateway;
  beforeAll(async () => {
    gateway = await startGateway({ port: 0, manifests, endpoints: endpointsFile, scrapeIntervalMs: 20, log: () => {} });
  });
  afterAll(() => gateway?.close());
  servesH2cPool(() => gateway);
});

describe('an h2c pool, gateway with a remote agent (the protocol in WatchEndpoints)', () => {
  let gateway: RunningGateway;
  let agentServer: Listening;
  const get = scrapeGetter();
  const agent = new MetricsAgent({ get, scrapeIntervalMs: 20 });
  beforeAll(async () => {
    agent.setEntries([
      { address: '127.0.0.1', labels: { app: 'h2c-server' }, engine: 'vllm' },
      { address: '127.0.0.1', port: httpPod.port, labels: { app: 'http-server' }, engine: 'vllm' },
    ]);
    agent.start();
    const { app, routes } = createAgentApp(agent);
    agentServer = await listenWithGrpc(app.fetch, routes, 0);
    gateway = await startGateway({ port: 0, manifests, agent: `http://127.0.0.1:${agentServer.port}`, log: () => {} });
  });
  afterAll(async () => {
    await gateway?.close();
    agent.stop();
    await agentServer?.close();
    await get.close();
  });
  servesH2cPool(() => gateway);
});
