/**
 * Assemble and start a gateway on Node: the routing table (manifests at
 * start, else the state dir's last accepted table), the endpoint source (an
 * embedded agent over the endpoints file, or a remote agent), the endpoint
 * picker with its WebAssembly kernel, the data plane and the admin API.
 */
import { readFile } from 'node:fs/promises';
import { createDataPlaneApp } from '../api/app.ts';
import { Gateway, type GatewayOptions } from '../gateway/gateway.ts';
import { createEndpointSource } from '../endpoints/index.ts';
import type { EndpointSource } from '../endpoints/types.ts';
import { importManifests } from '../routing/manifests.ts';
import { formatProblem, type Problem } from '../routing/problems.ts';
import { RoutingTableStore } from '../routing/store.ts';
import { createScheduler, parseSchedulerConfig } from '../scheduling/index.ts';
import type { Scheduler } from '../scheduling/scheduler.ts';
import { adminListenHost, createAdminApp, restoreTable, stateDirPersistence } from '../control/index.ts';
import { listen, listenHttp, loadKernelModule, readFileText, watchFile, writeFileAtomic, type Listening } from './node.ts';
import { NodeUpstream } from './node-upstream.ts';
import { undiciGetter } from './node-metrics-getter.ts';
import { dataPlaneListener } from './node-dataplane.ts';

export interface StartGatewayOptions extends Partial<GatewayOptions> {
  port?: number;
  host?: string;
  /** Kubernetes manifests (YAML) to load at start. */
  manifests?: string;
  /** The endpoints file (scraped by an agent embedded in the gateway). */
  endpoints?: string;
  /** A remote agent's URL, instead of the embedded one. */
  agent?: string;
  /** An endpoint source to use as is (tests). */
  endpointSource?: EndpointSource;
  /** EndpointPickerConfig YAML: plugins and scheduling profiles. */
  schedulingConfig?: string;
  scheduler?: Scheduler;
  scrapeIntervalMs?: number;
  staleAfterMs?: number;
  /** Admin API port (RoutingService); undefined: no admin API. */
  adminPort?: number;
  adminHost?: string;
  /** Bearer token for the admin API; without one it listens on loopback only. */
  token?: string;
  /** Where the accepted routing table is kept across restarts. */
  stateDir?: string;
  log?: (line: Record<string, unknown>) => void;
}

export interface RunningGateway {
  url: string;
  port: number;
  adminUrl?: string;
  gateway: Gateway;
  store: RoutingTableStore;
  close(): Promise<void>;
}

/** Startup refused: the configuration has problems, each named. */
export class ConfigError extends Error {
  constructor(
    message: string,
    readonly problems: Problem[],
  ) {
    super(`${message}\n${problems.map((p) => `  - ${formatProblem(p)}`).join('\n')}`);
  }
}

const files = { readFileText, watchFile, writeFileAtomic };

export async function loadManifestsInto(store: RoutingTableStore, path: string, log: (l: Record<string, unknown>) => void): Promise<void> {
  const imported = importManifests(await readFile(path, 'utf8'), path);
  if (imported.errors.length) throw new ConfigError(`${path}: the manifests were rejected whole`, imported.errors);
  for (const w of imported.warnings) log({ level: 'warn', msg: formatProblem(w) });
  const result = store.apply(imported.table);
  if (!result.ok) throw new ConfigError(`${path}: the routing table was rejected whole`, result.reason === 'invalid' ? result.problems : []);
}

async function loadScheduler(options: StartGatewayOptions): Promise<Scheduler> {
  if (options.scheduler) return options.scheduler;
  let config;
  if (options.schedulingConfig) {
    const parsed = parseSchedulerConfig(await readFile(options.schedulingConfig, 'utf8'));
    if (!parsed.ok) {
      throw new ConfigError(`${options.schedulingConfig}: the scheduling config was rejected`, parsed.problems.map((p) => ({ object: 'EndpointPickerConfig', path: p.path, message: p.message })));
    }
    config = parsed.config;
  }
  return createScheduler({ config, kernel: await loadKernelModule(), now: options.now, random: options.random });
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const log = options.log ?? ((line) => console.error(JSON.stringify(line)));
  const store = new RoutingTableStore();
  const persistence = options.stateDir ? stateDirPersistence(options.stateDir, files) : undefined;
  if (options.manifests) {
    await loadManifestsInto(store, options.manifests, log);
    await persistence?.save(store.current!.source);
  } else if (persistence) {
    const version = await restoreTable(store, persistence);
    if (version) log({ level: 'info', msg: 'restored the last accepted routing table', version, stateDir: options.stateDir });
  }

  // The embedded agent scrapes over undici (Node-only, so injected from here).
  const getter = !options.endpointSource && options.endpoints && !options.agent ? undiciGetter() : undefined;
  const endpoints =
    options.endpointSource ??
    (options.endpoints || options.agent
      ? await createEndpointSource({ endpointsFile: options.endpoints, agentUrl: options.agent, files, getter, scrapeIntervalMs: options.scrapeIntervalMs, staleAfterMs: options.staleAfterMs, log }).catch(async (err: unknown) => {
          await getter?.close();
          throw err;
        })
      : undefined);
  if (!endpoints) throw new ConfigError('no endpoints: give --endpoints FILE or --agent URL', []);
  const prepare = () => endpoints.prepare?.([...(store.current?.pools.values() ?? [])]);
  prepare();
  const unsubscribe = store.subscribe(prepare);

  const scheduler = await loadScheduler(options);
  const upstream = new NodeUpstream();
  const gateway = new Gateway(store, endpoints, scheduler, upstream, options);
  const app = createDataPlaneApp(gateway);
  const servers: Listening[] = [];
  try {
    servers.push(await listenHttp(dataPlaneListener(gateway, app), options.port ?? 8080, options.host ?? '127.0.0.1'));
    if (options.adminPort !== undefined) {
      const admin = createAdminApp({ store, token: options.token, persistence, endpointSource: endpoints, log });
      admin.get('/healthz', (c) => c.json({ status: 'ok' }));
      admin.get('/metrics', () => new Response(gateway.metrics.render(), { headers: { 'content-type': 'text/plain; version=0.0.4' } }));
      servers.push(await listen(admin.fetch, options.adminPort, adminListenHost(options.token, options.adminHost ?? options.host ?? '127.0.0.1')));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.close()));
    await endpoints.close();
    await getter?.close();
    throw err;
  }
  const [data, admin] = servers;
  return {
    url: `http://${data!.host}:${data!.port}`,
    port: data!.port,
    adminUrl: admin ? `http://${admin.host}:${admin.port}` : undefined,
    gateway,
    store,
    async close() {
      unsubscribe();
      await Promise.all(servers.map((s) => s.close()));
      await upstream.close();
      await endpoints.close();
      await getter?.close();
    },
  };
}
