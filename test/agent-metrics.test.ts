/**
 * The agent's own /metrics over real sockets: a pod that answers and an
 * address where nothing listens, scraped every 20 ms; a gateway-like client
 * holding a WatchEndpoints stream open. The page parses strictly and counts
 * scrapes and their latency per endpoint, the failures by kind, the
 * endpoints, and the open stream (and no longer once it is closed).
 */
import { Hono } from 'hono';
import { createClient } from '@connectrpc/connect';
import * as node from '@connectrpc/connect-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetricsAgent } from '../src/agent/agent.ts';
import { createAgentApp } from '../src/agent/app.ts';
import { EndpointService } from '../src/gen/infergate/v1/endpoint_pb.ts';
import { listen, listenWithGrpc, type Listening } from '../src/runtime/node/index.ts';
import { scrapeGetter } from '../src/runtime/node/metrics-getter.ts';
import { processMetrics } from '../src/runtime/node/process-metrics.ts';
import { parseStrict } from './prom-strict.ts';

describe("the agent's /metrics", () => {
  let pod: Listening;
  let server: Listening;
  let agent: MetricsAgent;
  let base: string;
  const get = scrapeGetter();

  beforeAll(async () => {
    const app = new Hono();
    app.get('/metrics', (c) => c.text('vllm:num_requests_waiting{model_name="m"} 2\nvllm:num_requests_running{model_name="m"} 1\n'));
    pod = await listen(app.fetch, 0);
    agent = new MetricsAgent({ get, scrapeIntervalMs: 20 });
    agent.setEntries([
      { address: '127.0.0.1', port: pod.port, labels: { pool: 'p' }, engine: 'vllm' },
      { address: '127.0.0.1', port: 1, labels: { pool: 'p' }, engine: 'vllm' },
    ]);
    agent.start();
    const served = createAgentApp(agent, { processMetrics: processMetrics() });
    server = await listenWithGrpc(served.app.fetch, served.routes, 0);
    base = `http://127.0.0.1:${server.port}`;
  });

  afterAll(async () => {
    agent.stop();
    await server.close();
    await pod.close();
    await get.close();
  });

  const page = async () => parseStrict(await (await fetch(`${base}/metrics`)).text());

  it('counts scrapes, their latency and failures per endpoint, the endpoints and the open streams', async () => {
    const client = createClient(EndpointService, node.createConnectTransport({ baseUrl: base, httpVersion: '1.1' }));
    const abort = new AbortController();
    const stream = client.watchEndpoints({ selector: { pool: 'p' }, targetPorts: [] }, { signal: abort.signal })[Symbol.asyncIterator]();
    await stream.next();
    await new Promise((r) => setTimeout(r, 150));
    const open = await page();
    const ok = `127.0.0.1:${pod.port}`;
    expect(open.value('infergate_agent_scrapes_total', { endpoint: ok })).toBeGreaterThan(2);
    expect(open.value('infergate_agent_scrape_duration_seconds_count', { endpoint: ok })).toBe(open.value('infergate_agent_scrapes_total', { endpoint: ok }));
    expect(open.sum('infergate_agent_scrape_errors_total', { endpoint: ok })).toBe(0);
    expect(open.value('infergate_agent_scrape_errors_total', { endpoint: '127.0.0.1:1', reason: 'unreachable' })).toBeGreaterThan(0);
    expect(open.value('infergate_agent_endpoints')).toBe(2);
    expect(open.value('infergate_agent_subscribers')).toBe(1);
    expect(open.types.get('process_resident_memory_bytes')).toBe('gauge');

    abort.abort();
    await stream.next().catch(() => undefined);
    await expect.poll(async () => (await page()).value('infergate_agent_subscribers')).toBe(0);
  });
});
