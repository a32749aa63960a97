/**
 * Assemble and start a gateway on Deno — the same parts as on Node
 * (src/runtime/node-gateway.ts) over Deno's APIs: `Deno.serve` for the data
 * plane and the admin API, `fetch` to the model servers and for scraping,
 * Deno files for the state dir and the endpoints file.
 */
import { createDataPlaneApp } from '../api/app.ts';
import { Gateway, type GatewayOptions } from '../gateway/gateway.ts';
import { createEndpointSource } from '../endpoints/index.ts';
import type { EndpointSource } from '../endpoints/types.ts';
import { fetchUpstream } from '../proxy/upstream.ts';
import { importManifests } from '../routing/manifests.ts';
import { formatProblem, type Problem } from '../routing/problems.ts';
import { RoutingTableStore } from '../routing/store.ts';
import { createScheduler, parseSchedulerConfig } from '../scheduling/index.ts';
import { adminListenHost, createAdminApp, restoreTable, stateDirPersistence } from '../control/index.ts';
import { deno, type DenoServer } from './deno-api.ts';
import { readFileText, watchFile, writeFileAtomic } from './deno-files.ts';

export interface DenoGatewayOptions extends Partial<GatewayOptions> {
  port?: number;
  host?: string;
  manifests?: string;
  endpoints?: string;
  agent?: string;
  endpointSource?: EndpointSource;
  schedulingConfig?: string;
  scrapeIntervalMs?: number;
  staleAfterMs?: number;
  adminPort?: number;
  adminHost?: string;
  token?: string;
  stateDir?: string;
  log?: (line: Record<string, unknown>) => void;
}

export interface RunningDenoGateway {
  url: string;
  adminUrl?: string;
  gateway: Gateway;
  store: RoutingTableStore;
  close(): Promise<void>;
}

/** Startup refused: the configuration has problems, each named. */
export class DenoConfigError extends Error {
  constructor(message: string, problems: Problem[]) {
    super(`${message}${problems.map((p) => `\n  - ${formatProblem(p)}`).join('')}`);
  }
}

const files = { readFileText, watchFile, writeFileAtomic };

async function readRequired(path: string): Promise<string> {
  const text = await readFileText(path);
  if (text === undefined) throw new DenoConfigError(`${path} does not exist`, []);
  return text;
}

/** The compiled scheduling kernel, build/kernel.wasm (`npm run build:kernel`). */
export async function loadKernelModule(url = new URL('../../build/kernel.wasm', import.meta.url)): Promise<WebAssembly.Module> {
  let bytes: Uint8Array;
  try {
    bytes = await deno().readFile(url);
  } catch (err) {
    throw new Error(`cannot read the scheduling kernel ${url.pathname} (run \`npm run build:kernel\`): ${(err as Error).message}`);
  }
  return WebAssembly.compile(bytes as Uint8Array<ArrayBuffer>);
}

/** Deno.serve binds synchronously (and throws when it cannot); `onListen` only silences its banner. */
function serve(fetch: (r: Request) => Response | Promise<Response>, port: number, hostname: string): DenoServer {
  return deno().serve({ port, hostname, onListen: () => {} }, fetch);
}

export async function startDenoGateway(options: DenoGatewayOptions): Promise<RunningDenoGateway> {
  const log = options.log ?? ((line) => console.error(JSON.stringify(line)));
  const store = new RoutingTableStore();
  const persistence = options.stateDir ? stateDirPersistence(options.stateDir, files) : undefined;
  if (options.manifests) {
    const imported = importManifests(await readRequired(options.manifests), options.manifests);
    if (imported.errors.length) throw new DenoConfigError(`${options.manifests}: the manifests were rejected whole`, imported.errors);
    for (const w of imported.warnings) log({ level: 'warn', msg: formatProblem(w) });
    const result = store.apply(imported.table);
    if (!result.ok) throw new DenoConfigError(`${options.manifests}: the routing table was rejected whole`, result.reason === 'invalid' ? result.problems : []);
    await persistence?.save(store.current!.source);
  } else if (persistence) {
    const version = await restoreTable(store, persistence);
    if (version) log({ level: 'info', msg: 'restored the last accepted routing table', version, stateDir: options.stateDir });
  }

  let config;
  if (options.schedulingConfig) {
    const parsed = parseSchedulerConfig(await readRequired(options.schedulingConfig));
    if (!parsed.ok) {
      throw new DenoConfigError(`${options.schedulingConfig}: the scheduling config was rejected`, parsed.problems.map((p) => ({ object: 'EndpointPickerConfig', path: p.path, message: p.message })));
    }
    config = parsed.config;
  }
  const scheduler = createScheduler({ config, kernel: await loadKernelModule(), now: options.now, random: options.random });

  const endpoints =
    options.endpointSource ??
    (options.endpoints || options.agent
      ? await createEndpointSource({ endpointsFile: options.endpoints, agentUrl: options.agent, files, scrapeIntervalMs: options.scrapeIntervalMs, staleAfterMs: options.staleAfterMs, log })
      : undefined);
  if (!endpoints) throw new DenoConfigError('no endpoints: give --endpoints FILE or --agent URL', []);
  const prepare = () => endpoints.prepare?.([...(store.current?.pools.values() ?? [])]);
  prepare();
  const unsubscribe = store.subscribe(prepare);

  const gateway = new Gateway(store, endpoints, scheduler, fetchUpstream, options);
  const servers: DenoServer[] = [];
  try {
    servers.push(serve(createDataPlaneApp(gateway).fetch, options.port ?? 8080, options.host ?? '127.0.0.1'));
    if (options.adminPort !== undefined) {
      const admin = createAdminApp({ store, token: options.token, persistence, endpointSource: endpoints, log });
      admin.get('/healthz', (c) => c.json({ status: 'ok' }));
      admin.get('/metrics', () => new Response(gateway.metrics.render(), { headers: { 'content-type': 'text/plain; version=0.0.4' } }));
      servers.push(serve(admin.fetch, options.adminPort, adminListenHost(options.token, options.adminHost ?? options.host ?? '127.0.0.1')));
    }
  } catch (err) {
    await Promise.all(servers.map((s) => s.shutdown()));
    await endpoints.close();
    throw err;
  }
  const url = (s: DenoServer) => `http://${s.addr.hostname.includes(':') ? `[${s.addr.hostname}]` : s.addr.hostname}:${s.addr.port}`;
  const [data, admin] = servers;
  return {
    url: url(data!),
    adminUrl: admin ? url(admin) : undefined,
    gateway,
    store,
    async close() {
      unsubscribe();
      await Promise.all(servers.map((s) => s.shutdown()));
      await endpoints.close();
    },
  };
}
