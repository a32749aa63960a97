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
