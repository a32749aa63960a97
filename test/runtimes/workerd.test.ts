/**
 * The end-to-end suite against the gateway on workerd (`wrangler dev --local`),
 * decisions by the pools' Durable Objects from the agent's snapshots — and
 * that the edge is metric-aware: a repeated long prompt returns to the pod
 * that served it (prefix index in the object), a pod with a long queue is
 * avoided (snapshot from the agent).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../../src/runtime/node/gateway.ts';
import { BODY_LIMIT, startFixture, type Fixture } from './fixture.ts';
import { chat, dataPathSuite, post } from './suite.ts';
import { bundleWorker, startWranglerDev, type WranglerDev } from './wrangler.ts';

let fixture: Fixture;
let worker: WranglerDev;
let bundled: string;

beforeAll(async () => {
  fixture = await startFixture({ agent: true });
  bundled = mkdtempSync(join(tmpdir(), 'infergate-worker-'));
  await bundleWorker(bundled, fixture.manifests);
  worker = await startWranglerDev({ manifests: fixture.manifests, bundled, vars: { INFERGATE_AGENT: fixture.agentUrl!, INFERGATE_BODY_LIMIT: String(BODY_LIMIT), INFERGATE_TENANT_HEADER: 'x-tenant' } });
}, 90_000);
afterAll(async () => {
  await worker?.stop();
  await fixture?.close();
  if (bundled) rmSync(bundled, { recursive: true, force: true });
});

dataPathSuite(() => ({ url: worker.url, fixture }));

describe('metric-aware at the edge (Durable Object per pool)', () => {
  const send = async (content: string) => {
    const res = await post(`${worker.url}/v1/chat/completions`, chat('edge-bot', content), { 'X-Gateway-Model-Name': 'edge-bot' });
    expect(res.status).toBe(200);
    await res.arrayBuffer();
    return res.headers.get('x-gateway-destination-endpoint')!;
  };

  it('a repeated long prompt returns to the pod that served it', async () => {
    const prompt = `${crypto.randomUUID()} ${'Summarise the following contract clause by clause. '.repeat(120)}`;
    const first = await send(prompt);
    expect(fixture.ids.edge).toContain(first);
    const again = [];
    for (let i = 0; i < 6; i++) again.push(await send(prompt));
    expect(again).toEqual(Array(6).fill(first));
  });

  it('a pod with a long queue is avoided', async () => {
    const [busy, ...rest] = fixture.edge;
    busy!.metrics.waiting = 40;
    try {
      await new Promise((r) => setTimeout(r, 400)); // the agent scrapes it; the object's view ages past the scrape interval
      const seen: string[] = [];
      for (let i = 0; i < 12; i++) seen.push(await send(`short question ${i} ${crypto.randomUUID()}`));
      expect(seen).not.toContain(busy!.id);
      expect(new Set(seen)).toEqual(new Set(rest.map((p) => p.id)));
    } finally {
      busy!.metrics.waiting = 0;
    }
  });
});

describe('requests end at the objects, however they end', () => {
  const completions = () => `${worker.url}/v1/chat/completions`;
  const edgeHeaders = { 'content-type': 'application/json', 'X-Gateway-Model-Name': 'edge-bot' };
  /** The edge pool's in-flight counts as its object keeps them (explained decisions carry them), this request included. */
  const edgeInFlight = async () => {
    const res = await post(completions(), chat('edge-bot', `count ${crypto.randomUUID()}`), { 'X-Gateway-Model-Name': 'edge-bot', 'x-infergate-explain': '1' });
    await res.arrayBuffer();
    const decision = JSON.parse(res.headers.get('x-infergate-decision')!) as { inFlight?: Record<string, number> };
    return Object.values(decision.inFlight ?? { unknown: -1 }).reduce((a, b) => a + b, 0);
  };
  const releaseUntilDone = async (res: Response) => {
    const reader = res.body!.getReader();
    let text = '';
    const ticker = setInterval(() => fixture.edge.forEach((p) => p.release()), 20);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) return text;
        text += new TextDecoder().decode(value);
      }
    } finally {
      clearInterval(ticker);
    }
  };

  it('a client that leaves mid-stream frees its place: the same tenant (maxConcurrentRequests 1) is served next', async () => {
    const leaving = new AbortController();
    const res = await fetch(completions(), { method: 'POST', headers: { ...edgeHeaders, 'x-tenant': 'one-at-a-time' }, body: JSON.stringify(chat('edge-bot', `leave ${crypto.randomUUID()}`, { stream: true })), signal: leaving.signal });
    expect(res.status).toBe(200);
    await res.body!.getReader().read(); // the first chunk; the pod waits for the test to release the rest
    leaving.abort();
    // wrangler dev's proxy may not pass the disconnect on to workerd: the pod ends the stream as well, which the
    // old code never heard either (no pending waitUntil, nobody reading the body).
    setTimeout(() => fixture.edge.forEach((p) => p.release()), 300);
    let status = 0;
    for (let i = 0; i < 40 && status !== 200; i++) {
      await new Promise((r) => setTimeout(r, 100));
      const next = await post(completions(), chat('edge-bot', `next ${i}`), { 'X-Gateway-Model-Name': 'edge-bot', 'x-tenant': 'one-at-a-time' });
      await next.arrayBuffer();
      status = next.status;
    }
    expect(status).toBe(200);
  });

  // The left stream's pod may end its stream after the client left: the relay would resume it, and that decision
  // would count a dispatch no one completes (the pool's object would keep it until its 10-minute lease).
  it("the left stream's dispatch is no longer counted by the pool's object", async () => {
    await new Promise((r) => setTimeout(r, 500));
    expect(await edgeInFlight()).toBe(1);
  });

  it("streams continued on another pod leave the pool's object with no request counted", async () => {
    for (let i = 0; i < 3; i++) {
      const res = await post(completions(), chat('edge-bot', `break-me ${crypto.randomUUID()}`, { stream: true, max_tokens: 20 }), { 'X-Gateway-Model-Name': 'edge-bot' });
      expect(res.status).toBe(200);
      const text = await releaseUntilDone(res);
      expect(text).toContain('"content":"b0"');
      expect(text).toContain('[DONE]');
    }
    let counted = -1;
    for (let i = 0; i < 20 && counted !== 1; i++) {
      await new Promise((r) => setTimeout(r, 100));
      counted = await edgeInFlight();
    }
    expect(counted).toBe(1); // the asking request only
  });
});

describe('routing table from a control-plane gateway', () => {
  let control: RunningGateway;
  let edge: WranglerDev;
  beforeAll(async () => {
    // A Node gateway as the control plane: its admin API (token required) serves the table it was started with.
    control = await startGateway({ port: 0, adminPort: 0, token: 'test-token', manifests: fixture.manifests, agent: fixture.agentUrl, log: () => {} });
    edge = await startWranglerDev({
      manifests: fixture.manifests,
      bundled,
      vars: { INFERGATE_AGENT: fixture.agentUrl!, INFERGATE_CONTROL_PLANE: control.adminUrl!, INFERGATE_TOKEN: 'test-token' },
    });
  }, 60_000);
  afterAll(async () => {
    await edge?.stop();
    await control?.close();
  });

  it('serves the control plane\'s table (fetched with the bearer token)', async () => {
    const models = (await (await fetch(`${edge.url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toContain('recommender');
    const res = await post(`${edge.url}/v1/chat/completions`, chat('recommender'), { 'X-Gateway-Model-Name': 'recommender' });
    expect(res.status).toBe(200);
    expect(fixture.ids['deepseek-r1']).toContain(res.headers.get('x-gateway-destination-endpoint'));
  });
});
