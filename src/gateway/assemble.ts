/**
 * Everything a gateway is made of, assembled the same way on every
 * long-running runtime (Node, Deno): the routing table (manifests at start,
 * else the state dir's last accepted one, or followed from a leader), the
 * endpoint source (embedded agent over the endpoints file, or a remote agent),
 * the endpoint picker, and the admin app. A runtime supplies its files,
 * kernel and clients, then listens.
 */
import type { Hono } from 'hono';
import type { Transport } from '@connectrpc/connect';
import { Gateway, type GatewayOptions } from './gateway.ts';
import { createEndpointSource } from './endpoint-source.ts';
import { EndpointsFileError, type FileAccess } from '../agent/discovery.ts';
import type { MetricsGetter } from '../agent/http-get.ts';
import type { EndpointSource } from '../endpoints/types.ts';
import type { UpstreamClient } from '../http/upstream.ts';
import { LocalScheduling } from '../scheduling/local.ts';
import { DEFAULT_FLOW_CONTROL, type FlowControlConfig } from '../flowcontrol/config.ts';
import { DEFAULT_SATURATION, type SaturationConfig } from '../scheduling/config.ts';
import type { ApiKeys } from '../api/api-keys.ts';
import type { TokenBudgets } from '../budgets/budgets.ts';
import { parseApiKeys } from '../config/api-keys-file.ts';
import { defaultUpstreamAuth, parseUpstreamCredentials } from '../config/upstream-credentials.ts';
import type { UpstreamAuth } from '../proxy/upstream-auth.ts';
import { importManifests } from '../routing/manifests.ts';
import { objectStatusLine } from '../routing/object-names.ts';
import { missingProfiles } from '../scheduling/profile-check.ts';
import { flowControlFromConfig } from '../scheduling/flow-control-mapping.ts';
import { formatProblem, type Problem } from '../routing/problems.ts';
import { RoutingTableStore } from '../routing/store.ts';
import { createScheduler, parseSchedulerConfig } from '../scheduling/index.ts';
import type { Scheduler } from '../scheduling/scheduler.ts';
import { adminListenHost, createAdminApp, restoreTable, stateDirPersistence, type TablePersistence } from '../control/index.ts';
import { TableFollower } from '../control/table-follower.ts';
import type { SchedulingServices } from '../scheduling/prompt-tokens.ts';
import { openPreciseServices, type PreciseOptions, type PreciseParts } from './precise-services.ts';
import { createDashboardApp } from '../dashboard/app.ts';
import { embeddedDashboardAssets } from '../dashboard/embedded-assets.ts';
import type { DashboardSource } from '../dashboard/feed.ts';
import type { RequestObserver } from '../proxy/observer.ts';
import type { BuildInfo } from './pool-metrics.ts';
import { gatewayTelemetry, type TelemetryParts } from './telemetry.ts';

export interface GatewayStartOptions extends Partial<GatewayOptions>, PreciseOptions {
  port?: number;
  host?: string;
  /** ms to open a connection to a pod before the next endpoint is tried (packages/http1's client on Node and Deno; default 5 000). */
  upstreamConnectTimeoutMs?: number;
  /** Kubernetes manifests (YAML) to load at start. */
  manifests?: string;
  /** The endpoints file (scraped by an agent embedded in the gateway). */
  endpoints?: string;
  /** A remote agent's URL, instead of the embedded one. */
  agent?: string;
  /** Bearer token the remote agent requires (the primary's internal listener, for a worker). */
  agentToken?: string;
  /**
   * Follow this leader's routing table (RoutingService.WatchRoutingTable)
   * instead of loading one: a `--workers N` worker. `manifests` and
   * `stateDir` are then not read (the leader persists what it accepts).
   */
  tableFrom?: TableSource;
  /** An endpoint source to use as is (tests). */
  endpointSource?: EndpointSource;
  /** EndpointPickerConfig YAML: plugins and scheduling profiles. */
  schedulingConfig?: string;
  scheduler?: Scheduler;
  scrapeIntervalMs?: number;
  /** The embedded agent: a pod whose /metrics are another engine's is not-ready (default) or ready with an error. */
  engineMismatch?: 'not-ready' | 'ready';
  staleAfterMs?: number;
  /** Admin API port (RoutingService); undefined: no admin API. */
  adminPort?: number;
  adminHost?: string;
  /** Bearer token for the admin API; without one it listens on loopback only. */
  token?: string;
  /** Where the accepted routing table is kept across restarts. */
  stateDir?: string;
  /**
   * Flow control (llm-d's `flowControl` feature gate): requests wait in the gateway
   * while their pool is saturated, by priority band and fairness flow.
   */
  flowControl?: { config?: Partial<FlowControlConfig>; maxConcurrency?: number; maxPendingPrefillTokens?: number; saturation?: Partial<SaturationConfig> };
  /** Bounds of the data-plane server (packages/http1, Node and Deno): connections at once (all, per client address), head, request and send timeouts, and how long `close()` lets requests under way finish (default 0: cut at once). */
  dataPlaneLimits?: { maxConnections?: number; maxConnectionsPerClient?: number; headersTimeoutMs?: number; requestTimeoutMs?: number; sendTimeoutMs?: number; drainTimeoutMs?: number };
  /** Clients' API keys file (SHA-256 digests, each with a tenant): the data plane then requires a key. */
  apiKeys?: string;
  /** What the pods receive in Authorization, per pool (file). */
  upstreamCredentials?: string;
  /** The routing table comes from elsewhere (the Kubernetes API): the admin API refuses Apply, saying this. */
  tableReadOnly?: string;
  log?: (line: Record<string, unknown>) => void;
  /** Request observers besides the metrics (a runtime adds tracing and the access log). */
  observers?: RequestObserver[];
  /** Token budgets kept elsewhere (a runtime's shared store); default: in this process. */
  budgets?: TokenBudgets;
  /** Serve the live dashboard at /dashboard/ on the admin port (default: yes, when there is one). */
  dashboard?: boolean;
  /** What `inference_extension_info` says. */
  buildInfo?: BuildInfo;
}

export interface TableSource {
  /** The leader's RoutingService base URL. */
  url: string;
  token?: string;
  transport?: Transport;
  /** Wait up to this long for the first table before the gateway is returned (0: do not wait). */
  waitMs?: number;
}

/** What a runtime lends the assembly. */
export interface RuntimeParts extends PreciseParts {
  files: FileAccess & { writeFileAtomic(path: string, text: string): Promise<void> };
  loadKernel(): Promise<WebAssembly.Module>;
  upstream: UpstreamClient;
  /** How the embedded agent fetches /metrics (default: fetch). */
  getter?: MetricsGetter;
  /** The process's own metrics (CPU, memory, event loop), appended to /metrics. */
  processMetrics?: () => Promise<string>;
}

export interface AssembledGateway {
  gateway: Gateway;
  store: RoutingTableStore;
  endpoints: EndpointSource;
  scheduling: LocalScheduling;
  /** The admin app when `adminPort` is set, and the host it must listen on. */
  admin?: { app: Hono; host: string };
  /** The /metrics page (the admin port serves it). */
  metrics(): Promise<string>;
  /** Stop following table changes and close the endpoint source. */
  close(): Promise<void>;
}

/** Startup refused: the configuration has problems, each named. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: Problem[],
  ) {
    super(`${message}${problems.map((p) => `\n  - ${formatProblem(p)}`).join('')}`);
  }
}

/** The access log's startup checks, every runtime alike: a share outside 0..1 is a typo, not a policy. */
export function checkAccessLogSample(sample: number | undefined): void {
  if (sample !== undefined && !(sample >= 0 && sample <= 1)) throw new ConfigError(`--access-log-sample must be from 0 to 1, got ${sample}`, []);
}

/** The refusal of an access-log file the runtime could not open (one line at startup, no stack). */
export function accessLogUnopenable(target: string, err: unknown): ConfigError {
  return new ConfigError(`--access-log ${target}: cannot open it for appending (${(err as Error).message})`, []);
}

async function readRequired(files: FileAccess, path: string): Promise<string> {
  const text = await files.readFileText(path);
  if (text === undefined) throw new ConfigError(`${path} does not exist`, []);
  return text;
}

export async function loadManifestsInto(store: RoutingTableStore, files: FileAccess, path: string, log: (l: Record<string, unknown>) => void): Promise<void> {
  const imported = importManifests(await readRequired(files, path), path);
  // Every object's every condition (a conflict's loser too), and the objects that are not routing objects.
  for (const o of imported.objects) log({ level: o.conditions.some((c) => c.status === 'False') ? 'warn' : 'info', msg: objectStatusLine(o), source: path });
  if (imported.errors.length) throw new ConfigError(`${path}: the manifests were rejected whole`, imported.errors);
  for (const w of imported.warnings) log({ level: 'warn', msg: formatProblem(w) });
  const result = store.apply(imported.table, { objects: imported.objects, allowEmpty: false });
  if (!result.ok && result.reason === 'empty') throw new ConfigError(`${path} holds no routing object (no HTTPRoute, InferencePool, InferenceObjective, InferenceModelRewrite or InferenceModel)`, []);
  if (!result.ok) throw new ConfigError(`${path}: the routing table was rejected whole`, result.reason === 'invalid' ? result.problems : []);
}

/** The scheduler, and flow control's configuration when the scheduling config turns llm-d's `flowControl` gate on. */
async function loadScheduler(options: GatewayStartOptions, parts: RuntimeParts, services: SchedulingServices): Promise<{ scheduler: Scheduler; flowControl?: Partial<FlowControlConfig> }> {
  if (options.scheduler) return { scheduler: options.scheduler };
  let config;
  if (options.schedulingConfig) {
    const parsed = parseSchedulerConfig(await readRequired(parts.files, options.schedulingConfig));
    if (!parsed.ok) {
      throw new ConfigError(`${options.schedulingConfig}: the scheduling config was rejected`, parsed.problems.map((p) => ({ object: 'EndpointPickerConfig', path: p.path, message: p.message })));
    }
    for (const w of parsed.warnings) options.log?.({ level: 'warn', msg: `${options.schedulingConfig}: ${w.path}: ${w.message}` });
    config = parsed.config;
  }
  const scheduler = createScheduler({ config, kernel: await parts.loadKernel(), now: options.now, random: options.random, services });
  const flowControl = config && flowControlFromConfig(config);
  return { scheduler, ...(flowControl ? { flowControl } : {}) };
}

/** The clients' API keys and what the pods receive in Authorization, from their files (each rejected whole, every problem named). */
async function loadCredentials(options: Pick<GatewayStartOptions, 'apiKeys' | 'upstreamCredentials'>, files: FileAccess): Promise<{ clients?: ApiKeys; upstreamAuth: UpstreamAuth }> {
  let clients: ApiKeys | undefined;
  if (options.apiKeys) {
    const parsed = parseApiKeys(await readRequired(files, options.apiKeys), options.apiKeys);
    if (!parsed.ok) throw new ConfigError(`${options.apiKeys}: the API keys were rejected`, parsed.problems);
    clients = parsed.keys;
  }
  if (!options.upstreamCredentials) return { clients, upstreamAuth: defaultUpstreamAuth(clients !== undefined) };
  const parsed = parseUpstreamCredentials(await readRequired(files, options.upstreamCredentials), options.upstreamCredentials, clients !== undefined);
  if (!parsed.ok) throw new ConfigError(`${options.upstreamCredentials}: the upstream credentials were rejected`, parsed.problems);
  return { clients, upstreamAuth: parsed.auth };
}

/** The routing table a gateway starts with: `manifests`, else the state dir's last accepted one (else none). */
export async function loadRoutingTable(
  options: Pick<GatewayStartOptions, 'manifests' | 'stateDir'>,
  files: RuntimeParts['files'],
  log: (l: Record<string, unknown>) => void,
  scheduler?: Scheduler,
): Promise<{ store: RoutingTableStore; persistence?: TablePersistence }> {
  const store = new RoutingTableStore();
  // A pool naming a scheduling profile this gateway does not have is refused at apply, not found out at request time.
  if (scheduler?.profileNames) store.setCheck((t) => missingProfiles(t, scheduler.profileNames!()));
  const persistence = options.stateDir ? stateDirPersistence(options.stateDir, files) : undefined;
  if (options.manifests) {
    await loadManifestsInto(store, files, options.manifests, log);
    await persistence?.save(store.current!.source, store.objects.list());
  } else if (persistence) {
    const version = await restoreTable(store, persistence);
    if (version) log({ level: 'info', msg: 'restored the last accepted routing table', version, stateDir: options.stateDir });
  }
  return { store, persistence };
}

/** The endpoint source the options name, kept watching the pools of the store's table. */
export async function openEndpointSource(
  options: GatewayStartOptions,
  parts: Pick<RuntimeParts, 'files' | 'getter'>,
  store: RoutingTableStore,
  log: (l: Record<string, unknown>) => void,
): Promise<{ endpoints: EndpointSource; close(): Promise<void> }> {
  let created: Awaited<ReturnType<typeof createEndpointSource>> | GatewayStartOptions['endpointSource'];
  try {
    created =
      options.endpointSource ??
      (options.endpoints || options.agent
        ? await createEndpointSource({
            endpointsFile: options.endpoints,
            agentUrl: options.agent,
            agentToken: options.agentToken,
            files: parts.files,
            getter: parts.getter,
            scrapeIntervalMs: options.scrapeIntervalMs,
            engineMismatch: options.engineMismatch,
            staleAfterMs: options.staleAfterMs,
            log,
          })
        : undefined);
  } catch (err) {
    // An endpoints file that cannot be read or is invalid is the configuration's problem, said in one line.
    if (err instanceof EndpointsFileError) throw new ConfigError(`--endpoints: ${err.message}`, []);
    throw err;
  }
  const endpoints = created;
  if (!endpoints) throw new ConfigError('no endpoints: give --endpoints FILE or --agent URL', []);
  const prepare = () => endpoints.prepare?.([...(store.current?.pools.values() ?? [])]);
  prepare();
  const unsubscribe = store.subscribe(prepare);
  return {
    endpoints,
    async close() {
      unsubscribe();
      await endpoints.close();
    },
  };
}

/** The admin API (RoutingService, GetEndpoints) plus /healthz, the gateway's /metrics and the dashboard. */
export function adminApp(
  options: Pick<GatewayStartOptions, 'token' | 'adminHost' | 'host' | 'tableReadOnly'>,
  control: { store: RoutingTableStore; persistence?: TablePersistence; endpoints: EndpointSource; log: (l: Record<string, unknown>) => void },
  metrics: () => string | Promise<string>,
  dashboard?: DashboardSource,
): { app: Hono; host: string } {
  const app = createAdminApp({ store: control.store, token: options.token, persistence: control.persistence, endpointSource: control.endpoints, log: control.log, readOnly: options.tableReadOnly });
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/metrics', async () => new Response(await metrics(), { headers: { 'content-type': 'text/plain; version=0.0.4; charset=utf-8' } }));
  if (dashboard) app.route('/dashboard', createDashboardApp({ source: dashboard, assets: embeddedDashboardAssets, token: options.token, log: control.log }));
  return { app, host: adminListenHost(options.token, options.adminHost ?? options.host ?? '127.0.0.1') };
}

export async function assembleGateway(options: GatewayStartOptions, parts: RuntimeParts): Promise<AssembledGateway> {
  const log = options.log ?? ((line) => console.error(JSON.stringify(line)));
  // Filled once the endpoint source is open (precise-services.ts); the plugins read it at decision time.
  const services: SchedulingServices = {};
  const { scheduler, flowControl: configuredFlowControl } = await loadScheduler(options, parts, services);
  const { store, persistence } = options.tableFrom ? { store: new RoutingTableStore(), persistence: undefined } : await loadRoutingTable(options, parts.files, log, scheduler);
  const { clients, upstreamAuth } = await loadCredentials(options, parts.files);
  const from = options.tableFrom;
  const follower = from && new TableFollower({ store, url: from.url, token: from.token, transport: from.transport, log });
  let source;
  try {
    source = await openEndpointSource(options, parts, store, log);
  } catch (err) {
    follower?.close();
    throw err;
  }
  const { endpoints } = source;
  let precise;
  try {
    precise = await openPreciseServices(options, parts, endpoints, services, log);
  } catch (err) {
    follower?.close();
    await source.close();
    throw new ConfigError(`precise prefix routing: ${(err as Error).message}`, []);
  }
  const preparePrecise = () => precise.prepare([...(store.current?.pools.values() ?? [])]);
  preparePrecise();
  const unsubscribePrecise = store.subscribe(preparePrecise);
  if (follower && from.waitMs && !(await follower.firstTable(from.waitMs))) {
    log({ level: 'warn', msg: 'no routing table from the leader yet; answering 503 until one arrives', leader: from.url, waitedMs: from.waitMs });
  }
  // A follower (a --workers process, replacing one that died, say) starts serving once its pools' endpoints have
  // come too: else its first requests find no endpoint and are answered 503 while the others' would be served.
  if (follower && from.waitMs && endpoints.firstSnapshots && !(await endpoints.firstSnapshots(from.waitMs))) {
    log({ level: 'warn', msg: 'not every pool has its endpoints from the agent yet; starting anyway', agent: options.agent, waitedMs: from.waitMs });
  }

  // Flow control: as the options say, else as the scheduling config's flowControl gate and block say.
  const fc: GatewayStartOptions['flowControl'] = options.flowControl ?? (configuredFlowControl && { config: configuredFlowControl });
  const flowControl = fc && {
    flowControl: { ...DEFAULT_FLOW_CONTROL, ...fc.config },
    saturation: { ...(scheduler.saturation ?? DEFAULT_SATURATION), ...fc.saturation },
    maxConcurrency: fc.maxConcurrency ?? scheduler.saturation?.maxConcurrency ?? 0,
    maxPendingPrefillTokens: fc.maxPendingPrefillTokens ?? scheduler.saturation?.pendingPrefillTokensThreshold ?? 0,
  };
  const scheduling = new LocalScheduling(endpoints, scheduler, { staleAfterMs: scheduler.staleAfterMs ?? 2000, now: options.now ?? Date.now, ...(flowControl ? { flowControl } : {}) });
  // Flow control judges waiting requests by the table's pools (a pool's selector may change with a new table).
  const flowTable = () => scheduling.flow?.tableApplied(store.current?.pools.values() ?? []);
  flowTable();
  const unsubscribeFlow = scheduling.flow ? store.subscribe(flowTable) : () => {};
  const gateway = new Gateway({ table: store, scheduling, upstream: parts.upstream, clients, upstreamAuth, log, observers: options.observers, budgets: options.budgets }, options);
  const withAdmin = options.adminPort !== undefined;
  const telemetry = gatewayTelemetry({ gateway, store, endpoints, scheduling, picker: scheduler as TelemetryParts['picker'], buildInfo: options.buildInfo, processMetrics: parts.processMetrics, dashboard: withAdmin && options.dashboard !== false });
  const admin = withAdmin ? adminApp(options, { store, persistence, endpoints, log }, telemetry.metrics, telemetry.dashboard) : undefined;
  return {
    gateway,
    store,
    endpoints,
    scheduling,
    admin,
    metrics: telemetry.metrics,
    async close() {
      telemetry.close();
      follower?.close();
      unsubscribePrecise();
      await precise.close();
      unsubscribeFlow();
      scheduling.flow?.close();
      await source.close();
    },
  };
}
