/**
 * Shared pieces for end-to-end tests: simulated pods and a gateway, all real
 * HTTP servers on loopback ports chosen by the OS.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Simulator } from '../src/sim/index.ts';
import { startSimulator } from '../src/runtime/node/index.ts';
import type { EndpointEntry } from '../src/endpoints/file-schema.ts';
import { startGateway, type RunningGateway, type StartGatewayOptions } from '../src/runtime/node/gateway.ts';
import { demoPools } from '../src/cli/commands/demo.ts';

export const SEED_MANIFESTS = new URL('../examples/seed-use-cases.yaml', import.meta.url).pathname;

export interface DemoCluster {
  gateway: RunningGateway;
  pools: Record<string, Simulator>;
  /** Endpoint ids (`127.0.0.1:port`) per pool. */
  endpointIds: Record<string, string[]>;
  close(): Promise<void>;
}

/** Entries for an endpoints file describing a simulator's pods. */
export function entriesFor(sim: Simulator, labels: Record<string, string>, engine: EndpointEntry['engine'] = 'vllm'): EndpointEntry[] {
  return sim.pods.map((p) => ({ address: '127.0.0.1', port: p.port, labels, engine }));
}

/** Write an endpoints file (in a fresh temporary directory) and return its path. */
export function writeEndpointsFile(entries: EndpointEntry[]): string {
  const path = join(mkdtempSync(join(tmpdir(), 'infergate-test-')), 'endpoints.json');
  writeFileSync(path, JSON.stringify({ endpoints: entries }));
  return path;
}

/** The demo's pools as simulated pods only (no gateway), their endpoints file in a fresh directory. */
export interface DemoPods {
  dir: string;
  endpointsFile: string;
  entries: EndpointEntry[];
  /** The simulator of each pool, by pool name. */
  pools: Record<string, Simulator>;
  sims: Simulator[];
  close(): Promise<void>;
}

export async function startDemoPods(options: { podsPerPool: (pool: string) => number; timeScale: number; prefix: string }): Promise<DemoPods> {
  const dir = mkdtempSync(join(tmpdir(), options.prefix));
  const pools: Record<string, Simulator> = {};
  const entries: EndpointEntry[] = [];
  for (const [name, spec] of Object.entries(demoPools)) {
    const sim = await startSimulator({ pods: options.podsPerPool(name), port: 0, model: spec.model, loras: spec.loras, engineConfig: { maxLoras: 2 }, timeScale: options.timeScale, name });
    pools[name] = sim;
    entries.push(...entriesFor(sim, { pool: name }));
  }
  const endpointsFile = join(dir, 'endpoints.json');
  writeFileSync(endpointsFile, JSON.stringify({ endpoints: entries }));
  const sims = Object.values(pools);
  return {
    dir,
    endpointsFile,
    entries,
    pools,
    sims,
    async close() {
      await Promise.all(sims.map((s) => s.close()));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The seed use cases: gemma3 (3 pods, LoRA adapters) and deepseek-r1 (2 pods),
 * behind a gateway whose embedded agent scrapes the pods' metrics.
 */
export async function startDemoCluster(options: { timeScale?: number; gateway?: StartGatewayOptions; podsPerPool?: Record<string, number> } = {}): Promise<DemoCluster> {
  const pods = await startDemoPods({
    podsPerPool: (name) => options.podsPerPool?.[name] ?? (name === 'gemma3' ? 3 : 2),
    timeScale: options.timeScale ?? 0.05,
    prefix: 'infergate-test-',
  });
  const { pools } = pods;
  const gateway = await startGateway({ port: 0, manifests: SEED_MANIFESTS, endpoints: pods.endpointsFile, ...options.gateway });
  await waitForMetrics(gateway, Object.keys(pools));
  const endpointIds = Object.fromEntries(Object.entries(pools).map(([n, s]) => [n, s.pods.map((p) => `127.0.0.1:${p.port}`)]));
  return {
    gateway,
    pools,
    endpointIds,
    async close() {
      await gateway.close();
      await pods.close();
    },
  };
}

/** POST JSON to the gateway. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body), signal });
}

export const chat = (model: string, content = 'Hello there', extra: Record<string, unknown> = {}) => ({
  model,
  messages: [{ role: 'user', content }],
  max_tokens: 8,
  ...extra,
});

/** Wait until the gateway has fresh metrics for every endpoint of these pools (the agent scraped them). */
export async function waitForMetrics(gateway: RunningGateway, pools: string[], timeoutMs = 5000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const table = gateway.store.current;
    const ready = pools.every((name) => {
      const pool = table?.pools.get(name);
      const snap = pool && gateway.endpoints.snapshot(pool);
      return snap && snap.endpoints.length > 0 && snap.endpoints.every((e) => e.metrics && e.scrapedAt);
    });
    if (ready) return;
    if (Date.now() > deadline) throw new Error(`no metrics for pools ${pools.join(', ')} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}
