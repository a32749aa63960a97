/**
 * Shared pieces for end-to-end tests: simulated pods and a gateway, all real
 * HTTP servers on loopback ports chosen by the OS.
 */
import { startSimulator, type Simulator } from '../src/sim/index.ts';
import { FileEndpointSource } from '../src/endpoints/file.ts';
import type { EndpointEntry } from '../src/endpoints/file-schema.ts';
import { startGateway, type RunningGateway, type StartGatewayOptions } from '../src/runtime/node-gateway.ts';
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

/** The seed use cases: gemma3 (3 pods, LoRA adapters) and deepseek-r1 (2 pods), behind a gateway. */
export async function startDemoCluster(options: { timeScale?: number; gateway?: StartGatewayOptions; podsPerPool?: Record<string, number> } = {}): Promise<DemoCluster> {
  const pools: Record<string, Simulator> = {};
  const entries: EndpointEntry[] = [];
  for (const [name, spec] of Object.entries(demoPools)) {
    pools[name] = await startSimulator({
      pods: options.podsPerPool?.[name] ?? (name === 'gemma3' ? 3 : 2),
      port: 0,
      model: spec.model,
      loras: spec.loras,
      engineConfig: { maxLoras: 2 },
      timeScale: options.timeScale ?? 0.05,
      name,
    });
    entries.push(...entriesFor(pools[name]!, { pool: name }));
  }
  const gateway = await startGateway({ port: 0, manifests: SEED_MANIFESTS, endpointSource: new FileEndpointSource(entries), ...options.gateway });
  const endpointIds = Object.fromEntries(Object.entries(pools).map(([n, s]) => [n, s.pods.map((p) => `127.0.0.1:${p.port}`)]));
  return {
    gateway,
    pools,
    endpointIds,
    async close() {
      await gateway.close();
      await Promise.all(Object.values(pools).map((s) => s.close()));
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
