/**
 * A child process of the precise end-to-end comparison. Roles:
 * - `pods`: simulated vLLM pods publishing KV events over ZeroMQ (with replay);
 * - `agent`: the metrics agent with KV events on (EndpointService + KvIndexService);
 * - `gateway`: a gateway following the agent (`--agent`), precise (`--kv-events`
 *   and a profile with precise-prefix-cache-scorer) or approximate (the default profile);
 * - `front`: a round-robin HTTP front over gateways (what a Kubernetes Service does).
 * Reads its JSON config from argv[2]; prints one JSON line `{ "ready": … }`; exits on SIGTERM.
 */
import { createServer, request as httpRequest, Agent } from 'node:http';
import { MetricsAgent } from '../../../src/agent/agent.ts';
import { createAgentApp } from '../../../src/agent/app.ts';
import { startFileDiscovery } from '../../../src/agent/discovery.ts';
import { KvEventsCollector } from '../../../src/kvevents/collector.ts';
import { listenWithGrpc, readFileText, startSimulator, scrapeGetter, watchFile } from '../../../src/runtime/node/index.ts';
import { startGateway } from '../../../src/runtime/node/gateway.ts';
import { zmqTransport } from '../../../src/runtime/node/zmq-subscriber.ts';

type Config =
  | { role: 'pods'; pods: number; port: number; model: string; timeScale: number; engineConfig: Record<string, number | boolean>; seed: number }
  | { role: 'agent'; endpoints: string; scrapeIntervalMs: number }
  | { role: 'gateway'; agent: string; manifests: string; schedulingConfig?: string; kvEvents: boolean; scrapeIntervalMs: number; staleAfterMs: number }
  | { role: 'front'; backends: string[] };

const config = JSON.parse(process.argv[2]!) as Config;
let close: () => Promise<unknown>;
if (config.role === 'pods') {
  const sim = await startSimulator({
    pods: config.pods, port: config.port, model: config.model, timeScale: config.timeScale, engineConfig: config.engineConfig, seed: config.seed,
    kvEventsEndpoint: 'tcp://127.0.0.1:0', kvEventsReplayEndpoint: 'tcp://127.0.0.1:0',
  });
  close = () => sim.close();
  console.log(JSON.stringify({ ready: sim.pods.map((p) => ({ url: p.url, port: p.port, kv: p.kvEvents!.endpoint, replay: p.kvEvents!.replayEndpoint })) }));
} else if (config.role === 'agent') {
  const get = scrapeGetter();
  const agent = new MetricsAgent({ get, scrapeIntervalMs: config.scrapeIntervalMs });
  const discovery = await startFileDiscovery(agent, config.endpoints, { readFileText, watchFile }, () => {});
  agent.start();
  const collector = new KvEventsCollector({ transport: zmqTransport });
  const { app, routes } = createAgentApp(agent, { kvEvents: { collector, convention: { port: 5557 } } });
  const server = await listenWithGrpc(app.fetch, routes, 0, '127.0.0.1');
  close = async () => {
    discovery.stop();
    agent.stop();
    await collector.close();
    await server.close();
    await get.close();
  };
  console.log(JSON.stringify({ ready: `http://127.0.0.1:${server.port}` }));
} else if (config.role === 'gateway') {
  const gw = await startGateway({
    port: 0, adminPort: undefined, manifests: config.manifests, agent: config.agent, schedulingConfig: config.schedulingConfig, kvEvents: config.kvEvents,
    scrapeIntervalMs: config.scrapeIntervalMs, staleAfterMs: config.staleAfterMs, log: () => {},
  });
  close = () => gw.close();
  console.log(JSON.stringify({ ready: gw.url }));
} else {
  const agent = new Agent({ keepAlive: true, maxSockets: 1024 });
  const backends = config.backends.map((u) => new URL(u));
  let next = 0;
  const server = createServer((req, res) => {
    const to = backends[next++ % backends.length]!;
    const up = httpRequest({ host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers, agent }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    up.on('error', (err) => {
      if (!res.headersSent) res.writeHead(502, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: { message: `front: ${err.message}`, type: 'server_error', param: null, code: 'bad_gateway' } }));
    });
    req.pipe(up);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const address = server.address() as { port: number };
  close = () => new Promise((r) => server.close(r));
  console.log(JSON.stringify({ ready: `http://127.0.0.1:${address.port}` }));
}
process.on('SIGTERM', () => {
  void close().finally(() => process.exit(0));
});
