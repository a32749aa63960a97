/**
 * Discovery from the (fake) API server into the agent, and what each pool
 * then holds. GIE's InferencePoolSpec.Selector "matches Pods by their labels
 * only within the same namespace", and a pool's endpoints are those pods on
 * its own targetPorts. The pools are modelled on the conformance suite's
 * base.yaml (two pools on one set of pods, one port each, one h2c), plus a
 * second team using the same label in its own namespace. Both ways a
 * gateway reads the agent are checked: in process (--kubernetes) and over
 * EndpointService (a remote agent, Workers, Deno), which knows the pool only
 * by what the request says.
 */
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsAgent } from '../src/agent/agent.ts';
import { endpointServiceRoutes } from '../src/agent/service.ts';
import type { AppProtocol, PoolRef } from '../src/endpoints/types.ts';
import { wirePool } from '../src/endpoints/wire.ts';
import { EndpointService } from '../src/gen/infergate/v1/endpoint_pb.ts';
import { KubernetesAgentSource, type KubernetesPodDiscovery } from '../src/kubernetes/index.ts';
import { importObjects } from '../src/routing/manifests.ts';
import { startKubernetesDiscovery } from '../src/runtime/node/kubernetes-gateway.ts';
import { startFakeKubeApiServer, type FakeKubeApiServer, type KubeObject } from './fixtures/kube-apiserver/index.ts';
import { POD, POOL, until } from './kubernetes-helpers.ts';

const APP = 'inference-conformance-app-backend';
const OTHER = 'other-team';

const pool = (namespace: string, name: string, app: string, port: number, appProtocol?: string): KubeObject => ({
  ...POOL,
  metadata: { name, namespace },
  spec: { selector: { matchLabels: { app } }, targetPorts: [{ number: port }], ...(appProtocol ? { appProtocol } : {}), endpointPickerRef: { name: 'epp', port: { number: 9002 } } },
});
const pod = (namespace: string, name: string, ip: string, app: string): KubeObject => ({
  ...POD,
  metadata: { name, namespace, labels: { app } },
  status: { phase: 'Running', podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] },
});

const POOLS = [
  pool(APP, 'appprotocol-http-inference-pool', 'appprotocol-inference-model-server', 3000, 'http'),
  pool(APP, 'appprotocol-h2c-inference-pool', 'appprotocol-inference-model-server', 3001, 'kubernetes.io/h2c'),
  // A second pool on the same pods and port: one scrape serves both.
  pool(APP, 'appprotocol-shadow-pool', 'appprotocol-inference-model-server', 3000),
  pool(APP, 'primary-inference-pool', 'primary-inference-model-server', 3000),
  // Same label, same port, another namespace: another team's pods.
  pool(OTHER, 'their-pool', 'primary-inference-model-server', 3000),
];

const page = ['# TYPE vllm:num_requests_waiting gauge', 'vllm:num_requests_waiting{model_name="m"} 0', '# TYPE vllm:num_requests_running gauge', 'vllm:num_requests_running{model_name="m"} 0', '# TYPE vllm:kv_cache_usage_perc gauge', 'vllm:kv_cache_usage_perc{model_name="m"} 0.1'].join('\n');

describe('discovery from the API: a pool holds its own namespace’s pods on its own ports', () => {
  let api: FakeKubeApiServer;
  let agent: MetricsAgent;
  let discovery: KubernetesPodDiscovery;
  let source: KubernetesAgentSource;
  let pools: PoolRef[];
  const scrapedWith = new Map<string, AppProtocol | undefined>();

  beforeAll(async () => {
    api = await startFakeKubeApiServer();
    for (const p of POOLS) api.create(p);
    api.create(pod(APP, 'appproto-0', '10.0.0.5', 'appprotocol-inference-model-server'));
    api.create(pod(APP, 'primary-0', '10.0.0.1', 'primary-inference-model-server'));
    api.create(pod(OTHER, 'vllm-0', '10.9.9.9', 'primary-inference-model-server'));
    agent = new MetricsAgent({
      get: async (url, _timeout, protocol) => {
        scrapedWith.set(new URL(url).host, protocol);
        return page;
      },
      scrapeIntervalMs: 10,
      modelsIntervalMs: 0,
    });
    // All namespaces, as `infergate agent --kubernetes` watches by default.
    discovery = await startKubernetesDiscovery(agent, { kubeconfig: api.kubeconfig(), waitMs: 5000 }, () => {});
    source = new KubernetesAgentSource(agent, discovery);
    pools = importObjects(POOLS).table.pools!;
    source.prepare(pools);
    agent.start();
    await until(() => scrapedWith.size === 4, 'every pod:port scraped');
  });
  afterAll(async () => {
    await source?.close();
    discovery?.stop();
    await api?.close();
  });

  const byName = (name: string) => pools.find((p) => p.name === name)!;
  const EXPECTED: Record<string, string[]> = {
    [`${APP}/appprotocol-http-inference-pool`]: ['10.0.0.5:3000'],
    [`${APP}/appprotocol-h2c-inference-pool`]: ['10.0.0.5:3001'],
    [`${APP}/appprotocol-shadow-pool`]: ['10.0.0.5:3000'],
    [`${APP}/primary-inference-pool`]: ['10.0.0.1:3000'],
    [`${OTHER}/their-pool`]: ['10.9.9.9:3000'],
  };

  it('in process: each pool its own pods and ports; each pod:port scraped once, in its pool’s protocol', () => {
    const got = Object.fromEntries(Object.keys(EXPECTED).map((name) => [name, source.snapshot(byName(name)).endpoints.map((e) => e.id).sort()]));
    expect(got).toEqual(EXPECTED);
    expect(agent.endpointCount).toBe(4);
    // HTTP/1.1 must not reach the h2c port, nor h2c the HTTP one.
    expect(Object.fromEntries(scrapedWith)).toEqual({ '10.0.0.5:3000': 'http', '10.0.0.5:3001': 'h2c', '10.0.0.1:3000': 'http', '10.9.9.9:3000': 'http' });
  });

  it('over EndpointService: the pool’s name on the request says its namespace', async () => {
    const client = createClient(EndpointService, createRouterTransport(endpointServiceRoutes(agent)));
    const got: Record<string, string[]> = {};
    for (const name of Object.keys(EXPECTED)) got[name] = ((await client.getEndpoints(wirePool(byName(name)))).snapshot?.endpoints ?? []).map((e) => e.id).sort();
    expect(got).toEqual(EXPECTED);
  });
});
