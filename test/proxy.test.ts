/**
 * The proxy at wire level, against an upstream whose every byte the test
 * controls: rewrite and restore, unbuffered streaming, aborts, and the
 * gateway's own 502/503/504.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { staticEndpoints } from './static-endpoints.ts';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import { chat, postJson } from './harness.ts';
import { startWireUpstream, type WireUpstream } from './wire-upstream.ts';

let upstream: WireUpstream;
let gateway: RunningGateway;
let deadPort: number;
let stallPort: number;
let stallServer: http.Server;

const table = (pools: { name: string; label: string }[]) => ({
  routes: [{ name: 'all', rules: pools.map((p) => ({ matches: [{ headers: [{ name: 'x-pool', value: p.name }] }], backendRefs: [{ pool: p.name }] })) }],
  // FailOpen: these endpoints publish no metrics; the picker routes on its own in-flight counts.
  pools: pools.map((p) => ({ name: p.name, selector: { pool: p.label }, targetPorts: [8000], failureMode: 'FailOpen' as const })),
  models: pools.map((p) => ({ name: 'bot', pool: p.name, targetModels: [{ name: 'bot-lora-v7' }] })),
});

beforeAll(async () => {
  upstream = await startWireUpstream();
  // A port with nothing listening: bind, note, close.
  const probe = http.createServer();
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
  deadPort = (probe.address() as AddressInfo).port;
  await new Promise((r) => probe.close(r));
  // An upstream that accepts and never answers.
  stallServer = http.createServer(() => undefined);
  await new Promise<void>((r) => stallServer.listen(0, '127.0.0.1', r));
  stallPort = (stallServer.address() as AddressInfo).port;

  gateway = await startGateway({
    port: 0,
    upstreamTimeoutMs: 300,
    endpointSource: staticEndpoints([
      { address: '127.0.0.1', port: upstream.port, labels: { pool: 'wire' }, engine: 'vllm' },
      { address: '127.0.0.1', port: deadPort, labels: { pool: 'dead' }, engine: 'vllm' },
      { address: '127.0.0.1', port: deadPort, labels: { pool: 'dead' }, engine: 'vllm' },
      { address: '127.0.0.1', port: stallPort, labels: { pool: 'stall' }, engine: 'vllm' },
    ]),
  });
  const applied = gateway.store.apply(table([
    { name: 'wire', label: 'wire' },
    { name: 'dead', label: 'dead' },
    { name: 'empty', label: 'nobody' },
    { name: 'stall', label: 'stall' },
  ]));
  expect(applied.ok).toBe(true);
});

afterAll(async () => {
  await gateway?.close();
  await upstream?.close();
  stallServer?.closeAllConnections();
  await new Promise((r) => stallServer?.close(r));
});

const url = () => `${gateway.url}/v1/chat/completions`;

describe('LoRA rewrite', () => {
  it('sends the target model upstream and restores the client name in the JSON answer', async () => {
    const res = await postJson(url(), chat('bot'), { 'x-pool': 'wire' });
    expect(res.status).toBe(200);
    const body = (await res.json()) as { model: string };
    expect(upstream.received.at(-1)!.body.model).toBe('bot-lora-v7');
    expect(body.model).toBe('bot');
    expect(upstream.received.at(-1)!.headers['x-request-id']).toBe(res.headers.get('x-request-id'));
    expect(res.headers.get('x-gateway-destination-endpoint')).toBe(`127.0.0.1:${upstream.port}`);
  });
});

describe('streaming', () => {
  it('is not buffered: the first chunk arrives before the upstream sends the second, and every chunk names the client model', async () => {
    const res = await postJson(url(), chat('bot', 'hi', { stream: true }), { 'x-pool': 'wire' });
    expect(res.status).toBe(200);
    expect(upstream.received.at(-1)!.body.model).toBe('bot-lora-v7');
    const reader = res.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    // Upstream has sent exactly one chunk and waits for us; if the gateway
    // buffered, this read would never complete (and the test would time out).
    while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value, { stream: true });
    expect(text).toContain('"content":"t0"');
    expect(text).not.toContain('t1');
    upstream.release();
    upstream.release();
    upstream.release();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
    }
    const events = text.split('\n\n').filter((e) => e.startsWith('data: {'));
    expect(events).toHaveLength(3);
    for (const e of events) expect(JSON.parse(e.slice(6)).model).toBe('bot');
    expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
  });

  it('a client that aborts mid-stream makes the upstream see its connection closed', async () => {
    const fresh = await startWireUpstream();
    const gw = await startGateway({ port: 0, endpointSource: staticEndpoints([{ address: '127.0.0.1', port: fresh.port, labels: { pool: 'wire' }, engine: 'vllm' }]) });
    gw.store.apply(table([{ name: 'wire', label: 'wire' }]));
    try {
      const controller = new AbortController();
      const res = await postJson(`${gw.url}/v1/chat/completions`, chat('bot', 'hi', { stream: true }), { 'x-pool': 'wire' }, controller.signal);
      const reader = res.body!.getReader();
      await reader.read();
      let seen = false;
      void fresh.closed.then(() => (seen = true));
      expect(seen).toBe(false);
      controller.abort();
      await Promise.race([fresh.closed, new Promise((_, reject) => setTimeout(() => reject(new Error('upstream connection still open 3 s after the client aborted')), 3000))]);
    } finally {
      await gw.close();
      await fresh.close();
    }
  });
});

describe("the gateway's own errors", () => {
  const expectError = async (res: Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { code: string; message: string; type: string } };
    expect(body.error.code).toBe(code);
    expect(body.error.message.length).toBeGreaterThan(20);
    return body.error;
  };

  it('503 when the pool has no endpoint', async () => {
    const err = await expectError(await postJson(url(), chat('bot'), { 'x-pool': 'empty' }), 503, 'no_ready_endpoint');
    expect(err.message).toContain('empty');
  });

  it('502 when every upstream refuses the connection', async () => {
    const err = await expectError(await postJson(url(), chat('bot'), { 'x-pool': 'dead' }), 502, 'upstream_unavailable');
    expect(err.message).toContain(String(deadPort));
  });

  it('504 when the upstream does not answer in time', async () => {
    await expectError(await postJson(url(), chat('bot'), { 'x-pool': 'stall' }), 504, 'upstream_timeout');
  });

  it('503 saying no routes are configured when no table is loaded', async () => {
    const gw = await startGateway({ port: 0, endpointSource: staticEndpoints([]) });
    try {
      const err = await expectError(await postJson(`${gw.url}/v1/chat/completions`, chat('bot')), 503, 'no_routes_configured');
      expect(err.message).toContain('infergate apply');
      expect((await fetch(`${gw.url}/readyz`)).status).toBe(503);
    } finally {
      await gw.close();
    }
  });
});
