/**
 * `infergate agent`: scrape the model servers of the endpoints file and
 * stream endpoint snapshots (EndpointService: Connect, gRPC-Web, and plain
 * gRPC over h2c on the same port), behind `--token` when given.
 */
import { commandFlags, FlagError, type FlagSpec, PORT } from '../../config/flags.ts';
import { engineMismatch } from '../../config/gateway-flags.ts';
import { listenFailure } from '../../config/listen-failure.ts';
import { environment, listenWithGrpc, readFileText, waitForShutdown, watchFile } from '../../runtime/node/index.ts';
import { MetricsAgent } from '../../agent/agent.ts';
import { createAgentApp } from '../../agent/app.ts';
import { startFileDiscovery } from '../../agent/discovery.ts';
import { scrapeGetter } from '../../runtime/node/metrics-getter.ts';
import { processMetrics } from '../../runtime/node/process-metrics.ts';
import { KvEventsCollector } from '../../kvevents/collector.ts';

export const agentFlags = {
  endpoints: { type: 'string', help: 'endpoints file (YAML/JSON): model-server pods and their labels; re-read on change' },
  port: { type: 'number', ...PORT, default: 9090, help: 'port for EndpointService (HTTP/1.1 and h2c)' },
  host: { type: 'string', default: '127.0.0.1', help: 'address to listen on (0.0.0.0 in a container)' },
  token: { type: 'string', help: "bearer token required on EndpointService, KvIndexService and /debug/* (they name every pod); the gateways send it with --agent-token" },
  'scrape-interval': { type: 'number', min: 1, default: 50, help: 'ms between scrapes of each pod' },
  'engine-mismatch': { type: 'string', default: 'not-ready', help: 'a pod whose /metrics are another engine\'s than its endpoint says: not-ready (out of the candidates) or ready (only reported as its last error)' },
  'scrape-timeout': { type: 'number', default: 0, help: 'ms before a scrape is abandoned (0: 4 × interval, at least 200)' },
  'failure-threshold': { type: 'number', default: 3, help: 'failed scrapes in a row before a pod reads not ready' },
  'metrics-path': { type: 'string', default: '/metrics', help: 'path of the Prometheus metrics on each pod' },
  'kv-events': { type: 'boolean', default: false, help: "subscribe to the pods' KV events (ZMQ) and serve KvIndexService" },
  'kv-events-port': { type: 'number', ...PORT, min: 1, default: 5557, help: "pods' KV-event PUB port when their entry names no kvEventsEndpoint (llm-d's socketPort)" },
  'kv-events-replay-port': { type: 'number', ...PORT, default: 0, help: "pods' replay ROUTER port when their entry names none (0: no replay)" },
  'kv-events-topic': { type: 'string', default: '', help: 'ZMQ topic prefix to subscribe to ("" takes all; llm-d uses kv@)' },
  kubernetes: { type: 'boolean', help: 'discover the pods of every InferencePool from the Kubernetes API instead of --endpoints' },
  namespace: { type: 'string', help: 'with --kubernetes: watch this namespace only (default: all namespaces)' },
  help: { type: 'boolean', help: 'show this help' },
} satisfies FlagSpec;

const log = (line: Record<string, unknown>) => console.log(JSON.stringify({ time: new Date().toISOString(), ...line }));

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('agent', args, agentFlags, environment(), {
    check(f) {
      if (!f.endpoints && !f.kubernetes) throw new FlagError('--endpoints (or --kubernetes) is required');
      if (f.endpoints && f.kubernetes) throw new FlagError('give --endpoints or --kubernetes, not both');
      if (f.host.trim() === '') throw new FlagError('--host must name an address: 127.0.0.1 (the default), or 0.0.0.0 for every interface');
      engineMismatch(f['engine-mismatch']);
    },
  });
  if (typeof flags === 'number') return flags;
  const get = scrapeGetter();
  const agent = new MetricsAgent({
    get,
    scrapeIntervalMs: flags['scrape-interval'],
    engineMismatch: engineMismatch(flags['engine-mismatch']),
    scrapeTimeoutMs: flags['scrape-timeout'] || undefined,
    failureThreshold: flags['failure-threshold'],
    metricsPath: flags['metrics-path'],
  });
  let discovery;
  try {
    discovery = flags.kubernetes
      ? await (await import('../../runtime/node/kubernetes-gateway.ts')).startKubernetesDiscovery(agent, { namespace: flags.namespace }, log)
      : await startFileDiscovery(agent, flags.endpoints, { readFileText, watchFile }, log);
  } catch (err) {
    console.error(`infergate agent: ${(err as Error).message}`);
    return 1;
  }
  agent.start();
  let kvEvents;
  if (flags['kv-events']) {
    // zeromq is a native module: loaded only when KV events are on.
    const { zmqTransport } = await import('../../runtime/node/zmq-subscriber.ts');
    const collector = new KvEventsCollector({ transport: zmqTransport, topic: flags['kv-events-topic'], log });
    kvEvents = { collector, convention: { port: flags['kv-events-port'], replayPort: flags['kv-events-replay-port'] || undefined } };
  }
  const token = flags.token || undefined;
  const { app, routes } = createAgentApp(agent, { notReadyReason: () => discovery.problem, kvEvents, processMetrics: processMetrics(), token });
  const collector = kvEvents?.collector;
  const stop = async () => {
    discovery.stop();
    agent.stop();
    await collector?.close();
    await get.close();
  };
  let server;
  try {
    server = await listenWithGrpc(app.fetch, routes, flags.port, flags.host);
  } catch (err) {
    await stop();
    const listen = listenFailure(err, flags);
    if (!listen) throw err;
    console.error(`infergate agent: ${listen}`);
    return 1;
  }
  log({ level: 'info', msg: 'agent listening', url: `http://${server.host}:${server.port}`, endpoints: agent.endpointCount, scrapeIntervalMs: agent.scrapeIntervalMs, token: token !== undefined });
  // Not refused (an existing install would stop), but said: whoever reaches the port reads every pod's address and metrics.
  if (!token && !['127.0.0.1', '::1', 'localhost'].includes(flags.host)) log({ level: 'warn', msg: 'agent serves pod addresses without a token on a non-loopback address: set --token (INFERGATE_TOKEN) and the gateways\' --agent-token', host: flags.host });
  await waitForShutdown();
  await server.close();
  await stop();
  return 0;
}
