/**
 * Choose the gateway's endpoint source: a remote agent (`--agent URL`), else
 * an agent embedded in the gateway scraping the pods of `--endpoints FILE`.
 */
import type { Transport } from '@connectrpc/connect';
import { MetricsAgent } from '../agent/agent.ts';
import { startFileDiscovery, type FileAccess } from '../agent/discovery.ts';
import { fetchGetter, type MetricsGetter } from '../agent/http-get.ts';
import { AgentEndpointSource } from '../endpoints/agent-source.ts';
import { EmbeddedAgentSource } from '../agent/embedded-source.ts';
import type { EndpointSource } from '../endpoints/types.ts';

export interface EndpointSourceOptions {
  /** Endpoints file for the embedded agent (ignored when agentUrl is set). */
  endpointsFile?: string;
  /** A remote agent's base URL, e.g. http://agent:9090. */
  agentUrl?: string;
  /** Bearer token the remote agent requires. */
  agentToken?: string;
  scrapeIntervalMs?: number;
  /** What the embedded agent does with a pod whose /metrics are another engine's (default not-ready). */
  engineMismatch?: 'not-ready' | 'ready';
  scrapeTimeoutMs?: number;
  /** Metrics older than this are stale (the picker applies the pool's failure mode). */
  staleAfterMs?: number;
  /** How files are read and watched (the runtime's readFileText / watchFile); needed with endpointsFile. */
  files?: FileAccess;
  /** How the embedded agent fetches /metrics (default: fetch; Node and Deno inject packages/http1's clients, src/runtime/node/metrics-getter.ts). */
  getter?: MetricsGetter;
  /** How to reach a remote agent (default: Connect over fetch). */
  transport?: Transport;
  log?: (line: Record<string, unknown>) => void;
}

export type ClosableEndpointSource = EndpointSource & {
  /** Subscribe/scrape these pools ahead of the first request (call on every routing-table change). */
  prepare(pools: readonly { name: string; selector: Record<string, string>; targetPorts: number[] }[]): void;
};

/**
 * @example
 * const source = await createEndpointSource({ endpointsFile: 'examples/seed-endpoints.yaml', files: { readFileText, watchFile } });
 * store.subscribe((t) => source.prepare([...t.pools.values()]));
 */
export async function createEndpointSource(options: EndpointSourceOptions): Promise<ClosableEndpointSource> {
  if (options.agentUrl) {
    return new AgentEndpointSource({ agentUrl: options.agentUrl, token: options.agentToken, transport: options.transport, staleAfterMs: options.staleAfterMs, log: options.log });
  }
  if (!options.endpointsFile) throw new Error('an endpoint source needs --endpoints FILE or --agent URL');
  if (!options.files) throw new Error('createEndpointSource: files (readFileText, watchFile) are needed to read the endpoints file');
  const agent = new MetricsAgent({ get: options.getter ?? fetchGetter(), scrapeIntervalMs: options.scrapeIntervalMs, scrapeTimeoutMs: options.scrapeTimeoutMs, engineMismatch: options.engineMismatch });
  const discovery = await startFileDiscovery(agent, options.endpointsFile, options.files, options.log);
  agent.start();
  return new EmbeddedAgentSource(agent, discovery);
}

export { AgentEndpointSource } from '../endpoints/agent-source.ts';
export { EmbeddedAgentSource } from '../agent/embedded-source.ts';
