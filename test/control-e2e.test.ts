/**
 * The gateway with a live control plane: routing tables pushed through the
 * admin API (and `infergate apply`), endpoints from an embedded or a remote
 * agent. Real servers on loopback; simulated vLLM pods.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import { listen, listenWithGrpc, readFileText, watchFile, writeFileAtomic, type Listening } from '../src/runtime/node/index.ts';
import { createEndpointSource } from '../src/gateway/endpoint-source.ts';
import { createAdminApp, restoreTable, stateDirPersistence, tableToWire } from '../src/control/index.ts';
import { adminClients } from '../src/rpc/admin-client.ts';
import { importManifests } from '../src/routing/manifests.ts';
import { MetricsAgent } from '../src/agent/agent.ts';
import { createAgentApp } from '../src/agent/app.ts';
import { scrapeGetter } from '../src/runtime/node/metrics-getter.ts';
import { run as apply } from '../src/cli/commands/apply.ts';
import { run as get } from '../src/cli/commands/get.ts';
import { SEED_MANIFESTS, chat, postJson, startDemoPods, type DemoPods } from './harness.ts';
import type { EndpointEntry } from '../src/endpoints/file-schema.ts';

const TOKEN = 'e2e-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const seedTable = () => importManifests(readFileSyncText(SEED_MANIFESTS)).table;
function readFileSyncText(path: string): string {
  return readFileSync(path, 'utf8');
}

let pods: DemoPods;
let dir: string;
let entries: EndpointEntry[];
beforeAll(async () => {
  pods = await startDemoPods({ podsPerPool: () => 2, timeScale: 0.02, prefix: 'infergate-e2e-' });
  ({ dir, entries } = pods);
});
afterAll(() => pods.close());

async function startStack(stateDir: string, source?: Awaited<ReturnType<typeof createEndpointSource>>) {
  const endpointSource = source ?? (await createEndpointSource({ endpointsFile: join(dir, 'endpoints.json'), files: { readFileText, watchFile } }));
  const gw = await startGateway({ port: 0, endpointSource });
  const persistence = stateDirPersistence(stateDir, { readFileText, writeFileAtomic });
  await restoreTable(gw.store, persistence);
  const prepare = () => endpointSource.prepare([...(gw.store.current?.pools.values() ?? [])]);
  gw.store.subscribe(prepare);
  prepare();
  const admin = await listen(createAdminApp({ store: gw.store, token: TOKEN, persistence, endpointSource }).fetch, 0);
  const server = `http://127.0.0.1:${admin.port}`;
  return {
    gw,
    server,
    async close() {
      await admin.close();
      await gw.close();
    },
  };
}

const send = (gw: RunningGateway, model: string) => postJson(`${gw.url}/v1/chat/completions`, chat(model));

async function cli(fn: (args: string[]) => Promise<number>, args: string[]) {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  try {
    return { code: await fn(args), out: out.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

describe('routing table pushed to a running gateway', () => {
  const stateDir = () => join(dir, 'state');
  let stack: Awaited<ReturnType<typeof startStack>>;
  beforeAll(async () => {
    stack = await startStack(stateDir());
  });
  afterAll(() => stack.close());

  it('answers 503 before any table, OpenAI-shaped', async () => {
    const res = await send(stack.gw, 'chatbot');
    expect(res.status).toBe(503);
    const body = (await res.json()) as { error: { message: string } };
    expect(body.error.message).toMatch(/rout/i);
  });

  it('infergate apply -f makes the demo models work without a restart; get prints tables', async () => {
    const applied = await cli(apply, ['-f', SEED_MANIFESTS, '--server', stack.server, '--token', TOKEN]);
    expect(applied.out).toMatch(/inferencepool\.inference\.networking\.k8s\.io\/gemma3 created/);
    expect(applied.code).toBe(0);
    for (const model of ['chatbot', 'recommender', 'english-bot', 'spanish-bot']) expect((await send(stack.gw, model)).status).toBe(200);
    const again = await cli(apply, ['-f', SEED_MANIFESTS, '--server', stack.server, '--token', TOKEN, '--dry-run']);
    expect(again.out).toMatch(/gemma3 unchanged \(server dry run\)/);
    const pools = await cli(get, ['pools', '--server', stack.server, '--token', TOKEN]);
    expect(pools.out).toMatch(/NAME\s+SELECTOR\s+PORTS\s+PROTOCOL\s+FAILURE MODE/);
    expect(pools.out).toMatch(/gemma3\s+pool=gemma3\s+\S+\s+http\s+/);
    await sleep(200);
    const eps = await cli(get, ['endpoints', '--server', stack.server, '--token', TOKEN]);
    expect(eps.code).toBe(0);
    expect(eps.out.split('\n').filter((l) => l.includes(' yes '))).toHaveLength(4);
    const denied = await cli(get, ['pools', '--server', stack.server, '--token', 'nope']);
    expect(denied.code).toBe(1);
  });

  it('an invalid push is rejected with each problem named and traffic keeps flowing on the old table', async () => {
    const bad = `${readFileSyncText(SEED_MANIFESTS)}\n---\napiVersion: example.com/v1\nkind: Mystery\nmetadata: { name: x }\n`;
    writeFileSync(join(dir, 'bad.yaml'), bad);
    const traffic = Promise.all(Array.from({ length: 10 }, () => send(stack.gw, 'english-bot').then((r) => r.status)));
    const res = await cli(apply, ['-f', join(dir, 'bad.yaml'), '--server', stack.server, '--token', TOKEN]);
    expect(res.code).toBe(1);
    expect(res.out).toMatch(/mystery.*not accepted/i);
    const { routing } = adminClients(stack.server, TOKEN);
    const table = seedTable();
    table.routes![0]!.rules[0]!.backendRefs[0]!.pool = 'nowhere';
    await expect(routing.applyRoutingTable({ table: tableToWire(table) })).rejects.toThrow(/nowhere/);
    expect(await traffic).toEqual(Array(10).fill(200));
    expect((await send(stack.gw, 'chatbot')).status).toBe(200);
  });

  it('a second apply that removes a model makes it 404', async () => {
    const { routing } = adminClients(stack.server, TOKEN);
    const table = seedTable();
    table.models = table.models!.filter((m) => m.name !== 'spanish-bot');
    await routing.applyRoutingTable({ table: tableToWire(table) });
    expect((await send(stack.gw, 'spanish-bot')).status).toBe(404);
    expect((await send(stack.gw, 'english-bot')).status).toBe(200);
  });

  it('a restarted gateway serves the last accepted table at once', async () => {
    const again = await startStack(stateDir());
    try {
      expect(again.gw.store.version).toBe(stack.gw.store.version);
      expect((await send(again.gw, 'english-bot')).status).toBe(200);
      expect((await send(again.gw, 'spanish-bot')).status).toBe(404);
    } finally {
      await again.close();
    }
  });
});

describe('gateway with a remote agent', () => {
  it('keeps routing (FailOpen) while the agent is down; the stream resumes within 2 s', async () => {
    const getter = scrapeGetter();
    const agent = new MetricsAgent({ get: getter, scrapeIntervalMs: 50 });
    agent.setEntries(entries);
    agent.start();
    const { app, routes } = createAgentApp(agent);
    let agentServer: Listening = await listenWithGrpc(app.fetch, routes, 0);
    const port = agentServer.port;
    const source = await createEndpointSource({ agentUrl: `http://127.0.0.1:${port}` });
    const stateDir = join(dir, 'state-agent');
    const stack = await startStack(stateDir, source);
    try {
      await adminClients(stack.server, TOKEN).routing.applyRoutingTable({ table: tableToWire(seedTable()) });
      await sleep(300);
      expect(source.notReadyReason()).toBeUndefined();
      expect((await send(stack.gw, 'chatbot')).status).toBe(200);
      await agentServer.close();
      const statuses: number[] = [];
      const until = Date.now() + 2500; // past the 2 s staleness horizon
      while (Date.now() < until) {
        statuses.push((await send(stack.gw, 'chatbot')).status);
        await sleep(100);
      }
      expect(source.notReadyReason()).toBeDefined();
      expect(statuses.every((s) => s === 200)).toBe(true);
      agentServer = await listenWithGrpc(app.fetch, routes, port);
      const start = Date.now();
      while (source.notReadyReason() && Date.now() - start < 3000) await sleep(20);
      expect(Date.now() - start).toBeLessThan(2000);
      expect((await send(stack.gw, 'chatbot')).status).toBe(200);
    } finally {
      await stack.close();
      agent.stop();
      await agentServer.close();
      await getter.close();
    }
  });
});
