/**
 * EndpointService without sockets: the agent scraping through a fake getter
 * (the model servers' /metrics pages as text), its service mounted on an
 * in-memory Connect transport, the gateway's remote source reading it.
 */
import { createClient, createRouterTransport } from '@connectrpc/connect';
import { afterEach, describe, expect, it } from 'vitest';
import { AgentEndpointSource } from '../endpoints/agent-source.ts';
import { EndpointService } from '../gen/infergate/v1/endpoint_pb.ts';
import { MetricsAgent } from './agent.ts';
import { endpointServiceRoutes } from './service.ts';

const page = (waiting: number) =>
  [
    '# TYPE vllm:num_requests_waiting gauge',
    `vllm:num_requests_waiting{model_name="m"} ${waiting}`,
    '# TYPE vllm:num_requests_running gauge',
    'vllm:num_requests_running{model_name="m"} 1',
    '# TYPE vllm:kv_cache_usage_perc gauge',
    'vllm:kv_cache_usage_perc{model_name="m"} 0.25',
  ].join('\n');

const closers: Array<() => void | Promise<void>> = [];
afterEach(async () => {
  for (const c of closers.splice(0)) await c();
});

function agentWith(queues: Record<string, number>): MetricsAgent {
  const agent = new MetricsAgent({
    get: async (url) => {
      const id = new URL(url).host;
      if (!(id in queues)) throw new Error('connect ECONNREFUSED');
      return page(queues[id]!);
    },
    scrapeIntervalMs: 10,
  });
  agent.setEntries([
    { address: '10.0.0.1', port: 8000, labels: { pool: 'a' }, engine: 'vllm' },
    { address: '10.0.0.2', port: 8000, labels: { pool: 'a' }, engine: 'vllm' },
    { address: '10.0.0.3', port: 8000, labels: { pool: 'b' }, engine: 'vllm' },
  ]);
  agent.start();
  closers.push(() => agent.stop());
  return agent;
}

async function until<T>(what: string, read: () => Promise<T> | T, ok: (v: T) => boolean, ms = 2000): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = await read();
    if (ok(v)) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('MetricsAgent membership', () => {
  it('scrapes a port-less entry added after its pool was acquired, on the pool\'s ports, and drops it when removed', async () => {
    const agent = new MetricsAgent({ get: async () => page(0), scrapeIntervalMs: 10 });
    closers.push(() => agent.stop());
    agent.setEntries([{ address: '10.0.0.1', labels: { pool: 'a' }, engine: 'vllm' }]);
    const pool = { selector: { pool: 'a' }, targetPorts: [8000, 8001] };
    const release = agent.acquire(pool);
    expect(agent.view(pool).endpoints.map((e) => e.id)).toEqual(['10.0.0.1:8000', '10.0.0.1:8001']);
    agent.setEntries([...agent.entries, { address: '10.0.0.2', labels: { pool: 'a' }, engine: 'vllm' }]);
    expect(agent.view(pool).endpoints.map((e) => e.id).sort()).toEqual(['10.0.0.1:8000', '10.0.0.1:8001', '10.0.0.2:8000', '10.0.0.2:8001']);
    agent.setEntries([{ address: '10.0.0.2', labels: { pool: 'a' }, engine: 'vllm' }]);
    expect(agent.view(pool).endpoints.map((e) => e.id)).toEqual(['10.0.0.2:8000', '10.0.0.2:8001']);
    release();
    expect(agent.view(pool).endpoints).toEqual([]);
  });
});

describe('EndpointService over an in-memory transport', () => {
  it('GetEndpoints answers the pods a selector picks, with their scraped metrics', async () => {
    const queues = { '10.0.0.1:8000': 3, '10.0.0.2:8000': 0, '10.0.0.3:8000': 9 };
    const client = createClient(EndpointService, createRouterTransport(endpointServiceRoutes(agentWith(queues))));
    const res = await until(
      'metrics of pool a',
      () => client.getEndpoints({ selector: { pool: 'a' }, targetPorts: [8000] }),
      (r) => (r.snapshot?.endpoints ?? []).every((e) => e.metrics !== undefined) && r.snapshot!.endpoints.length === 2,
    );
    const byId = Object.fromEntries(res.snapshot!.endpoints.map((e) => [e.id, e.metrics!.waiting]));
    expect(byId).toEqual({ '10.0.0.1:8000': 3, '10.0.0.2:8000': 0 });
  });

  it('refuses an invalid selector with InvalidArgument', async () => {
    const client = createClient(EndpointService, createRouterTransport(endpointServiceRoutes(agentWith({}))));
    await expect(client.getEndpoints({ selector: {}, targetPorts: [70000] })).rejects.toThrow(/invalid pool selector/);
  });

  it('the gateway’s remote source follows WatchEndpoints: a queue change reaches its snapshot', async () => {
    const queues = { '10.0.0.1:8000': 1, '10.0.0.2:8000': 1, '10.0.0.3:8000': 1 };
    const transport = createRouterTransport(endpointServiceRoutes(agentWith(queues), { minIntervalMs: 10 }));
    const source = new AgentEndpointSource({ agentUrl: 'http://agent.invalid', transport, log: () => {} });
    closers.push(() => source.close());
    const pool = { name: 'a', selector: { pool: 'a' }, targetPorts: [8000] };
    source.prepare([pool]);
    await until('first snapshot', () => source.snapshot(pool).endpoints, (e) => e.length === 2 && e.every((x) => x.metrics?.waiting === 1));
    queues['10.0.0.2:8000'] = 7;
    const seen = await until('the queue change', () => source.snapshot(pool).endpoints, (e) => e.some((x) => x.metrics?.waiting === 7));
    expect(seen.find((e) => e.metrics?.waiting === 7)!.id).toBe('10.0.0.2:8000');
    expect(source.notReadyReason()).toBeUndefined();
  });
});
