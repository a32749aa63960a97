import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hono } from 'hono';
import { listen, listenWithGrpc, readFileText, watchFile, type Listening } from '../src/runtime/node/index.ts';
import { MetricsAgent } from '../src/agent/agent.ts';
import { createAgentApp } from '../src/agent/app.ts';
import { scrapeGetter } from '../src/runtime/node/metrics-getter.ts';
import { createEndpointSource } from '../src/gateway/endpoint-source.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
async function until<T>(fn: () => T | undefined, timeoutMs: number): Promise<{ value: T; ms: number }> {
  const start = Date.now();
  for (;;) {
    const value = fn();
    if (value !== undefined && value !== false) return { value, ms: Date.now() - start };
    if (Date.now() - start > timeoutMs) throw new Error(`not within ${timeoutMs} ms`);
    await sleep(10);
  }
}

async function fakePod(waiting: { n: number }) {
  const app = new Hono();
  app.get('/metrics', (c) => c.text(`vllm:num_requests_waiting ${waiting.n}\nvllm:kv_cache_usage_perc 0.5\n`));
  return listen(app.fetch, 0);
}

const POOL = { name: 'gemma3', selector: { pool: 'gemma3' }, targetPorts: [8000] };

describe('AgentEndpointSource (gateway side of a remote agent)', () => {
  const waiting = { n: 2 };
  let pod: Listening;
  let agentServer: Listening | undefined;
  let agentPort = 0;
  const get = scrapeGetter();
  const agent = new MetricsAgent({ get, scrapeIntervalMs: 50 });

  const startAgentServer = async () => {
    const { app, routes } = createAgentApp(agent);
    agentServer = await listenWithGrpc(app.fetch, routes, agentPort);
    agentPort = agentServer.port;
  };

  beforeAll(async () => {
    pod = await fakePod(waiting);
    agent.setEntries([{ address: '127.0.0.1', port: pod.port, labels: { pool: 'gemma3' }, engine: 'vllm' }]);
    agent.start();
    await startAgentServer();
  });
  afterAll(async () => {
    agent.stop();
    await agentServer?.close();
    await pod.close();
    await get.close();
  });

  it('streams fresh metrics, keeps the last snapshot (aging) while the agent is down, resumes within 2 s', async () => {
    const source = await createEndpointSource({ agentUrl: `http://127.0.0.1:${agentPort}`, staleAfterMs: 2000 });
    try {
      source.prepare([POOL]);
      const first = await until(() => source.snapshot(POOL).endpoints[0]?.metrics, 2000);
      expect(first.value.waiting).toBe(2);
      expect(source.notReadyReason()).toBeUndefined();
      const fresh = source.snapshot(POOL);
      expect(fresh.hasMetrics).toBe(true);
      expect(Date.now() - fresh.endpoints[0]!.scrapedAt!).toBeLessThan(300);

      await agentServer!.close();
      await until(() => source.notReadyReason(), 3000);
      await sleep(400);
      const kept = source.snapshot(POOL);
      expect(kept.endpoints).toHaveLength(1);
      expect(Date.now() - kept.endpoints[0]!.scrapedAt!).toBeGreaterThan(300);

      waiting.n = 9;
      await startAgentServer();
      const resumed = await until(() => source.snapshot(POOL).endpoints[0]?.metrics?.waiting === 9 || undefined, 2000);
      expect(resumed.ms).toBeLessThan(2000);
      expect(source.notReadyReason()).toBeUndefined();
    } finally {
      source.close();
    }
  });

  it('tells when every pool watched has its first snapshot, or that it has not within the time given', async () => {
    const source = await createEndpointSource({ agentUrl: `http://127.0.0.1:${agentPort}`, staleAfterMs: 2000 });
    const nowhere = await createEndpointSource({ agentUrl: 'http://127.0.0.1:1' });
    try {
      // Nothing watched yet: nothing to wait for.
      expect(await source.firstSnapshots!(1000)).toBe(true);
      source.prepare!([POOL]);
      expect(source.snapshot(POOL).hasMetrics).toBe(false);
      expect(await source.firstSnapshots!(2000)).toBe(true);
      expect(source.snapshot(POOL).hasMetrics).toBe(true);
      expect(source.snapshot(POOL).endpoints).toHaveLength(1);
      nowhere.prepare!([POOL]);
      const t0 = Date.now();
      expect(await nowhere.firstSnapshots!(200)).toBe(false);
      expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    } finally {
      source.close();
      nowhere.close();
    }
  });

  it('is not ready while the agent cannot be reached, and says so in the log once', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const source = await createEndpointSource({ agentUrl: 'http://127.0.0.1:1', log: (l) => lines.push(l) });
    try {
      await sleep(200);
      expect(source.notReadyReason()).toMatch(/agent http:\/\/127.0.0.1:1/);
      expect(source.snapshot(POOL).endpoints).toEqual([]);
      // A wrong --agent URL is not silent: one warning per pool, not one per retry.
      await sleep(1500);
      const said = lines.filter((l) => l.msg === 'agent not reachable; retrying');
      expect(said).toHaveLength(1);
      expect(said[0]).toMatchObject({ level: 'warn', agent: 'http://127.0.0.1:1', pool: POOL.name });
    } finally {
      source.close();
    }
  });
});

describe('EmbeddedAgentSource (--endpoints FILE alone)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'infergate-endpoints-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('scrapes the file’s pods in-process and follows edits of the file', async () => {
    const a = { n: 4 };
    const b = { n: 1 };
    const podA = await fakePod(a);
    const podB = await fakePod(b);
    const file = join(dir, 'endpoints.yaml');
    writeFileSync(file, `endpoints:\n  - { address: 127.0.0.1, port: ${podA.port}, labels: { pool: gemma3 } }\n`);
    const source = await createEndpointSource({ endpointsFile: file, files: { readFileText, watchFile }, scrapeIntervalMs: 50 });
    try {
      const got = await until(() => source.snapshot(POOL).endpoints[0]?.metrics, 1000);
      expect(got.value.waiting).toBe(4);
      expect(source.notReadyReason()).toBeUndefined();
      writeFileSync(file, `endpoints:\n  - { address: 127.0.0.1, port: ${podA.port}, labels: { pool: gemma3 } }\n  - { address: 127.0.0.1, port: ${podB.port}, labels: { pool: gemma3 } }\n`);
      await until(() => source.snapshot(POOL).endpoints.find((e) => e.port === podB.port)?.metrics, 3000);
      writeFileSync(file, 'endpoints: [ { address: 127.0.0.1 '); // broken edit: keep the previous endpoints
      await until(() => source.notReadyReason(), 3000);
      expect(source.snapshot(POOL).endpoints).toHaveLength(2);
    } finally {
      await source.close();
      await podA.close();
      await podB.close();
    }
  });

  it('a file that breaks after it was read: a warning says the previous endpoints are kept; at startup, none (the error says it)', async () => {
    const file = join(dir, 'reload.yaml');
    const lines: Array<Record<string, unknown>> = [];
    const log = (l: Record<string, unknown>) => void lines.push(l);
    const open = () => createEndpointSource({ endpointsFile: file, files: { readFileText, watchFile }, scrapeIntervalMs: 50, log });
    // At startup: nothing to keep, so no warning, only the error.
    writeFileSync(file, 'endpoints:\n  - { port: 8000 }\n');
    await expect(open()).rejects.toThrow(/reload\.yaml/);
    await expect(createEndpointSource({ endpointsFile: join(dir, 'missing.yaml'), files: { readFileText, watchFile }, log })).rejects.toThrow(/does not exist/);
    expect(lines.filter((l) => String(l.msg).includes('keeping previous endpoints'))).toEqual([]);
    // Later: the previous endpoints are kept, and the log says so and why.
    writeFileSync(file, 'endpoints:\n  - { address: 127.0.0.1, port: 8000, labels: { pool: gemma3 } }\n');
    const source = await open();
    try {
      await sleep(300); // the file watcher takes its first look
      writeFileSync(file, 'endpoints:\n  - { port: 8000 }\n');
      const warned = await until(() => lines.find((l) => l.msg === 'endpoints file invalid, keeping previous endpoints'), 3000);
      expect(warned.value).toMatchObject({ level: 'warn', problem: expect.stringContaining(file) });
      expect(source.snapshot(POOL).endpoints).toHaveLength(1);
      rmSync(file);
      const gone = await until(() => lines.find((l) => l.msg === 'endpoints file unreadable, keeping previous endpoints'), 3000);
      // The reason is this look's: the file is gone, not still invalid.
      expect(gone.value).toMatchObject({ problem: `${file} does not exist` });
      expect(source.snapshot(POOL).endpoints).toHaveLength(1);
    } finally {
      await source.close();
    }
  });
});
