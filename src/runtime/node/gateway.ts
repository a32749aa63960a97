/**
 * Start a gateway on Node: the shared assembly (src/gateway/assemble.ts) with
 * Node's parts — files, the kernel from build/, the HTTP/1.1 client of
 * packages/http1 to the model servers (its h2c client for h2c pools), the same clients for scraping, prom-client's
 * process metrics, the OpenTelemetry SDK when OTEL_* asks for traces, the
 * access log's sink — then the data plane (./data-plane.ts) and the admin API.
 */
import { createDataPlaneApp } from '../../gateway/data-plane-app.ts';
import { hash } from 'node:crypto';
import { accessLogUnopenable, assembleGateway, checkAccessLogSample, ConfigError, type GatewayStartOptions } from '../../gateway/assemble.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import type { EndpointSource } from '../../endpoints/types.ts';
import type { LocalScheduling } from '../../scheduling/local.ts';
import type { RoutingTableStore } from '../../routing/store.ts';
import { H2cClient, Http1Client } from '@infergate/http1';
import { byProtocol } from '../../http/upstream.ts';
import { listenDataPlane } from './data-plane.ts';
import { nodeFiles } from './files.ts';
import { loadKernelModule } from './kernel.ts';
import { listen, type Listening } from './listen.ts';
import { scrapeGetter } from './metrics-getter.ts';
import { accessLog } from '../../observability/access-log.ts';
import { tracingObserver } from '../../observability/tracing.ts';
import type { RequestObserver } from '../../proxy/observer.ts';
import { accessLogSink, type AccessLogSink } from './access-log-sink.ts';
import { processMetrics } from './process-metrics.ts';
import { startNodeTracing, TracingConfigError, type NodeTracing } from './tracing.ts';
import { buildInfo } from './build-info.ts';
import { TokenBudgets, type BudgetFailureMode } from '../../budgets/budgets.ts';
import { RedisBudgetStore } from './redis-budgets.ts';

export { ConfigError };
export interface StartGatewayOptions extends GatewayStartOptions {
  /** `off` (the default here; the CLI's is stdout), `stdout`, or a file to append to. */
  accessLog?: string;
  /** Share of successful requests logged, 0..1. */
  accessLogSample?: number;
  /** At most this many access-log lines a second (0 or unset: no cap). */
  accessLogMaxRate?: number;
  /** The OTEL_* variables (default: the process's environment). */
  otelEnv?: Record<string, string | undefined>;
  /** redis:// URL of the Redis or Valkey that keeps token budgets for every replica (default: this process keeps them). */
  budgetStore?: string;
  /** When that store cannot be reached: let requests through (FailOpen, the default) or refuse them. */
  budgetFailureMode?: BudgetFailureMode;
}

export interface RunningGateway {
  url: string;
  port: number;
  adminUrl?: string;
  gateway: Gateway;
  store: RoutingTableStore;
  /** What the gateway sees of the pods (tests read it). */
  endpoints: EndpointSource;
  /** Scheduling in this process: the picker, passive health, flow control. */
  scheduling: LocalScheduling;
  close(): Promise<void>;
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  // The embedded agent scrapes through packages/http1's clients (./metrics-getter.ts; Node's, so lent from here).
  const getter = !options.endpointSource && options.endpoints && !options.agent ? scrapeGetter() : undefined;
  // HTTP/1.1 to the pods, and HTTP/2 cleartext to a pool whose port says `appProtocol: kubernetes.io/h2c`.
  const upstream = byProtocol({ http: new Http1Client({ connectTimeoutMs: options.upstreamConnectTimeoutMs }), h2c: new H2cClient(), runtime: 'Node' });
  // zeromq is a native module: loaded only when KV events are on.
  const kvEventsTransport = async () => (await import('./zmq-subscriber.ts')).zmqTransport;
  const sha256 = (data: Uint8Array) => hash('sha256', data, 'buffer') as Uint8Array;
  // prom-client's collectors (GC and event-loop observers) only where there is a page to show them on.
  const parts = { files: nodeFiles, loadKernel: () => loadKernelModule(), upstream, getter, kvEventsTransport, sha256, processMetrics: options.adminPort !== undefined ? processMetrics() : undefined };
  const log = options.log ?? ((line: Record<string, unknown>) => console.error(JSON.stringify(line)));
  let assembled;
  let tracing: NodeTracing | undefined;
  let sink: AccessLogSink | undefined;
  let budgets: TokenBudgets | undefined;
  try {
    budgets = await openBudgetStore(options, log);
    const observers: RequestObserver[] = [...(options.observers ?? [])];
    tracing = startTracing(options.otelEnv ?? process.env, log);
    if (tracing) observers.push(tracingObserver({ tracer: tracing.tracer, propagator: tracing.propagator, upstreamClient: 'http1' }));
    sink = openAccessLog(options, log);
    if (sink) observers.push(accessLog({ write: sink.write, sample: options.accessLogSample, maxPerSecond: options.accessLogMaxRate || undefined }));
    assembled = await assembleGateway({ buildInfo: buildInfo(), ...options, observers, ...(budgets ? { budgets } : {}) }, parts);
  } catch (err) {
    await budgets?.store.close?.();
    await getter?.close();
    await upstream.close();
    await tracing?.shutdown();
    await sink?.close();
    throw err;
  }
  const { gateway, store, admin, endpoints, scheduling } = assembled;
  const servers: Listening[] = [];
  const closeAll = async () => {
    await Promise.all(servers.map((s) => s.close()));
    await upstream.close();
    await assembled.close();
    await getter?.close();
    await tracing?.shutdown();
    await sink?.close();
    await budgets?.store.close?.();
  };
  try {
    const app = createDataPlaneApp(gateway, { clientAddress: (c) => (c.env as { incoming?: { socket?: { remoteAddress?: string } } } | undefined)?.incoming?.socket?.remoteAddress });
    servers.push(await listenDataPlane(gateway, app, options.port ?? 8080, options.host ?? '127.0.0.1', options.dataPlaneLimits));
    if (admin) servers.push(await listen(admin.app.fetch, options.adminPort!, admin.host));
  } catch (err) {
    await closeAll();
    throw err;
  }
  const [data, adminServer] = servers;
  return {
    url: `http://${data!.host}:${data!.port}`,
    port: data!.port,
    adminUrl: adminServer ? `http://${adminServer.host}:${adminServer.port}` : undefined,
    gateway,
    store,
    endpoints,
    scheduling,
    close: closeAll,
  };
}

/** The shared budget store `--budget-store` names, connected; unreachable at start is logged (the failure mode applies until it answers), not fatal. */
async function openBudgetStore(options: StartGatewayOptions, log: (line: Record<string, unknown>) => void): Promise<TokenBudgets | undefined> {
  if (!options.budgetStore) return undefined;
  const store = new RedisBudgetStore({ url: options.budgetStore });
  const where = options.budgetStore.replace(/\/\/[^@/]*@/, '//***@');
  try {
    await store.connect();
    log({ level: 'info', msg: 'token budgets shared through Redis', store: where });
  } catch (err) {
    log({ level: 'error', msg: `token-budget store unreachable at start (${options.budgetFailureMode ?? 'FailOpen'} until it answers)`, store: where, error: String((err as Error)?.message ?? err) });
  }
  return new TokenBudgets(store, { failureMode: options.budgetFailureMode, log });
}

function startTracing(env: Record<string, string | undefined>, log: (line: Record<string, unknown>) => void): NodeTracing | undefined {
  try {
    const tracing = startNodeTracing(env, buildInfo().buildRef);
    if (tracing) log({ level: 'info', msg: 'tracing on', exporter: tracing.endpoint, sampler: env.OTEL_TRACES_SAMPLER ?? 'parentbased_always_on' });
    return tracing;
  } catch (err) {
    if (err instanceof TracingConfigError) throw new ConfigError(`tracing: ${err.message}`, []);
    throw err;
  }
}

function openAccessLog(options: StartGatewayOptions, log: (line: Record<string, unknown>) => void): AccessLogSink | undefined {
  const target = options.accessLog ?? 'off';
  if (target === 'off') return undefined;
  checkAccessLogSample(options.accessLogSample);
  try {
    return accessLogSink(target, log);
  } catch (err) {
    throw accessLogUnopenable(target, err);
  }
}
