/**
 * Assemble and start a gateway on Node: read the manifests and endpoints
 * files, build the routing table, the endpoint source, the scheduler and the
 * upstream client, and listen.
 */
import { readFile } from 'node:fs/promises';
import { createDataPlaneApp } from '../api/app.ts';
import { Gateway, type GatewayOptions } from '../gateway/gateway.ts';
import { FileEndpointSource } from '../endpoints/file.ts';
import { parseEndpointsFile } from '../endpoints/file-schema.ts';
import type { EndpointSource } from '../endpoints/types.ts';
import { importManifests } from '../routing/manifests.ts';
import { formatProblem, type Problem } from '../routing/problems.ts';
import { RoutingTableStore } from '../routing/store.ts';
import { LeastInFlightScheduler } from '../scheduling/least-in-flight.ts';
import type { Scheduler } from '../scheduling/scheduler.ts';
import { listen } from './node.ts';
import { NodeUpstream } from './node-upstream.ts';
import { inboundFromNode } from './node-inbound.ts';

export interface StartGatewayOptions extends Partial<GatewayOptions> {
  port?: number;
  host?: string;
  /** Kubernetes manifests (YAML) to load at start. */
  manifests?: string;
  /** The endpoints file. */
  endpoints?: string;
  /** An endpoint source to use instead of the endpoints file. */
  endpointSource?: EndpointSource;
  scheduler?: Scheduler;
}

export interface RunningGateway {
  url: string;
  port: number;
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

export async function loadManifestsFile(path: string): Promise<RoutingTableStore> {
  const store = new RoutingTableStore();
  const imported = importManifests(await readFile(path, 'utf8'), path);
  if (imported.errors.length) throw new ConfigError(`${path}: the manifests were rejected whole`, imported.errors);
  for (const w of imported.warnings) console.error(JSON.stringify({ level: 'warn', msg: formatProblem(w) }));
  const result = store.apply(imported.table);
  if (!result.ok) throw new ConfigError(`${path}: the routing table was rejected whole`, result.reason === 'invalid' ? result.problems : []);
  return store;
}

export async function loadEndpointsFile(path: string): Promise<FileEndpointSource> {
  const parsed = parseEndpointsFile(await readFile(path, 'utf8'), path);
  if (!parsed.ok) throw new ConfigError(`${path}: the endpoints file was rejected`, parsed.problems);
  return new FileEndpointSource(parsed.endpoints);
}

export async function startGateway(options: StartGatewayOptions): Promise<RunningGateway> {
  const store = options.manifests ? await loadManifestsFile(options.manifests) : new RoutingTableStore();
  const endpoints = options.endpointSource ?? (options.endpoints ? await loadEndpointsFile(options.endpoints) : new FileEndpointSource([]));
  const scheduler = options.scheduler ?? new LeastInFlightScheduler();
  const upstream = new NodeUpstream();
  const gateway = new Gateway(store, endpoints, scheduler, upstream, options);
  const app = createDataPlaneApp(gateway, { inbound: inboundFromNode });
  const server = await listen(app.fetch, options.port ?? 8080, options.host ?? '127.0.0.1');
  return {
    url: `http://${server.host}:${server.port}`,
    port: server.port,
    gateway,
    store,
    async close() {
      await server.close();
      await upstream.close();
      await endpoints.close();
    },
  };
}
