/**
 * What every runtime's gateway is tested against, all on loopback: simulated
 * vLLM pods for the seed use cases (gemma3, deepseek-r1), test-controlled pods
 * for the wire-level and metric-aware cases, the endpoints file naming them,
 * and — for runtimes that cannot scrape (Workers) — an agent serving
 * EndpointService over that file.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Simulator } from '../../src/sim/index.ts';
import { startSimulator } from '../../src/runtime/node/index.ts';
import { demoPools } from '../../src/cli/commands/demo.ts';
import type { EndpointEntry } from '../../src/endpoints/file-schema.ts';
import { MetricsAgent } from '../../src/agent/agent.ts';
import { createAgentApp } from '../../src/agent/app.ts';
import { startFileDiscovery } from '../../src/agent/discovery.ts';
import { listen, readFileText, watchFile, type Listening } from '../../src/runtime/node/index.ts';
import { scrapeGetter } from '../../src/runtime/node/metrics-getter.ts';
import { startFakePod, type FakePod } from './fake-pod.ts';

export const MANIFESTS = new URL('./manifests.yaml', import.meta.url).pathname;
/** Smaller than the 8 MiB default so the 413 case sends little. */
export const BODY_LIMIT = 1024 * 1024;

export interface Fixture {
  manifests: string;
  endpointsFile: string;
  /** Endpoint ids (`127.0.0.1:port`) per pool. */
  ids: Record<string, string[]>;
  wire: FakePod;
  edge: FakePod[];
  /** The agent's URL, when started with `agent: true`. */
  agentUrl?: string;
  close(): Promise<void>;
}

export async function startFixture(options: { agent?: boolean } = {}): Promise<Fixture> {
  const sims: Simulator[] = [];
  const entries: EndpointEntry[] = [];
  const ids: Record<string, string[]> = {};
  const add = (pool: string, port: number) => {
    entries.push({ address: '127.0.0.1', port, labels: { pool }, engine: 'vllm' });
    (ids[pool] ??= []).push(`127.0.0.1:${port}`);
  };
  for (const [name, spec] of Object.entries(demoPools)) {
    const sim = await startSimulator({ pods: 2, port: 0, model: spec.model, loras: spec.loras, engineConfig: { maxLoras: 2 }, timeScale: 0.05, name });
    sims.push(sim);
    for (const pod of sim.pods) add(name, pod.port);
  }
  const wire = await startFakePod();
  add('wire', wire.port);
  const dead = [await startFakePod({ refuse: true }), await startFakePod({ refuse: true })];
  for (const d of dead) add('dead', d.port);
  const edge = [await startFakePod(), await startFakePod(), await startFakePod()];
  for (const e of edge) add('edge', e.port);

  const dir = mkdtempSync(join(tmpdir(), 'infergate-runtimes-'));
  const endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify({ endpoints: entries }));

  let agentServer: Listening | undefined;
  let stopAgent = async () => {};
  if (options.agent) {
    const get = scrapeGetter();
    const agent = new MetricsAgent({ get, scrapeIntervalMs: 50 });
    const discovery = await startFileDiscovery(agent, endpointsFile, { readFileText, watchFile });
    agent.start();
    agentServer = await listen(createAgentApp(agent).app.fetch, 0);
    stopAgent = async () => {
      discovery.stop();
      agent.stop();
      await agentServer?.close();
      await get.close();
    };
  }
  return {
    manifests: MANIFESTS,
    endpointsFile,
    ids,
    wire,
    edge,
    agentUrl: agentServer ? `http://127.0.0.1:${agentServer.port}` : undefined,
    async close() {
      await stopAgent();
      await Promise.all([...sims.map((s) => s.close()), wire.close(), ...dead.map((d) => d.close()), ...edge.map((e) => e.close())]);
    },
  };
}

/** Poll until `url` answers 200 (or throw after `timeoutMs`). */
export async function waitForOk(url: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last = '';
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      last = `${res.status} ${await res.text()}`;
      if (res.ok) return;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${url} not ready after ${timeoutMs} ms: ${last}`);
}
