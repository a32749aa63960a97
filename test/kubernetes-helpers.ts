/**
 * Shared pieces of the Kubernetes tests: simulated model-server pods, each on
 * its own loopback address (127.0.0.N, one port for all, as pods in a cluster
 * share their container port and differ by IP), the objects a GIE user
 * applies, and a gateway started with --kubernetes against the fake API server.
 */
import { createServer } from 'node:net';
import type { Simulator } from '../src/sim/index.ts';
import { startSimulator } from '../src/runtime/node/index.ts';
import { startKubernetesGateway, type KubernetesFlags, type KubernetesGateway } from '../src/runtime/node/kubernetes-gateway.ts';
import type { FakeKubeApiServer, KubeObject } from './fixtures/kube-apiserver/index.ts';

export const NS = 'llm';
export const POD = { apiVersion: 'v1', kind: 'Pod' } as const;
export const POOL = { apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool' } as const;
export const ROUTE = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'HTTPRoute' } as const;
export const MODEL = { apiVersion: 'inference.networking.x-k8s.io/v1alpha2', kind: 'InferenceModel' } as const;
export const OBJECTIVE = { apiVersion: 'inference.networking.x-k8s.io/v1alpha2', kind: 'InferenceObjective' } as const;

/** A port free on 127.0.0.2 (the first pod's address), for every pod. */
export async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.2', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

export interface SimPods {
  port: number;
  /** Pod i listens on 127.0.0.(i + 2). */
  sims: Simulator[];
  ip(i: number): string;
  /** Requests finished per pod. */
  finished(): number[];
  close(): Promise<void>;
}

export async function startSimPods(count: number, options: { timeScale?: number; model?: string } = {}): Promise<SimPods> {
  const port = await freePort();
  const ip = (i: number) => `127.0.0.${i + 2}`;
  const sims: Simulator[] = [];
  for (let i = 0; i < count; i++) {
    sims.push(await startSimulator({ pods: 1, port, host: ip(i), model: options.model ?? 'llama', timeScale: options.timeScale ?? 0.02, name: `vllm-${i}` }));
  }
  return {
    port,
    sims,
    ip,
    finished: () => sims.map((s) => s.pods[0]!.engine.stats.finished),
    close: async () => void (await Promise.all(sims.map((s) => s.close()))),
  };
}

export function podObject(name: string, ip: string, options: { ready?: boolean; labels?: Record<string, string> } = {}): KubeObject {
  return {
    ...POD,
    metadata: { name, namespace: NS, labels: options.labels ?? { app: 'llama' } },
    spec: { containers: [{ name: 'vllm', image: 'vllm/vllm-openai' }], terminationGracePeriodSeconds: 30 },
    status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: options.ready === false ? 'False' : 'True' }] },
  };
}

export function setReady(api: FakeKubeApiServer, name: string, ready: boolean): void {
  api.modify({ ...POD, namespace: NS, name }, (o) => {
    (o.status as { conditions: { type: string; status: string }[] }).conditions = [{ type: 'Ready', status: ready ? 'True' : 'False' }];
  });
}

export function poolObject(name: string, port: number, selector: Record<string, string> = { app: 'llama' }): KubeObject {
  return { ...POOL, metadata: { name, namespace: NS }, spec: { selector: { matchLabels: selector }, targetPorts: [{ number: port }], endpointPickerRef: { name: 'infergate', port: { number: 9002 } } } };
}

export function routeObject(name: string, pool: string, options: { parentRefs?: unknown[]; path?: string } = {}): KubeObject {
  return {
    ...ROUTE,
    metadata: { name, namespace: NS },
    spec: {
      ...(options.parentRefs ? { parentRefs: options.parentRefs } : {}),
      rules: [{ matches: [{ path: { type: 'PathPrefix', value: options.path ?? '/' } }], backendRefs: [{ group: 'inference.networking.k8s.io', kind: 'InferencePool', name: pool }] }],
    },
  };
}

export function modelObject(name: string, modelName: string, pool: string): KubeObject {
  return { ...MODEL, metadata: { name, namespace: NS }, spec: { modelName, criticality: 'Standard', poolRef: { name: pool } } };
}

export function objectiveObject(name: string, pool: string, priority: number): KubeObject {
  return { ...OBJECTIVE, metadata: { name, namespace: NS }, spec: { priority, poolRef: { name: pool } } };
}

export async function until(check: () => boolean | Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A gateway with --kubernetes against the fake API server; fast leader election for tests. */
export function startGatewayOn(api: FakeKubeApiServer, flags: Partial<KubernetesFlags> = {}): Promise<KubernetesGateway> {
  return startKubernetesGateway(
    { port: 0, scrapeIntervalMs: 20, log: () => {} },
    { kubeconfig: api.kubeconfig(NS), namespace: NS, identity: 'gateway-a', leaseDurationMs: 1500, renewDeadlineMs: 1000, retryPeriodMs: 100, waitMs: 5000, ...flags },
  );
}

/** The ids (`ip:port`) of the pool's endpoints the picker can choose now: ready, with metrics scraped. */
export function candidates(gw: KubernetesGateway, pool: string): string[] {
  // The table names a pool outside the default namespace `namespace/name`.
  const p = gw.store.current?.pools.get(`${NS}/${pool}`);
  if (!p) return [];
  return gw.endpoints
    .snapshot(p)
    .endpoints.filter((e) => e.ready && e.scrapedAt !== undefined)
    .map((e) => e.id)
    .sort();
}
