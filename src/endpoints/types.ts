/**
 * What the gateway knows about the model-server pods of a pool: where they
 * are and, when an agent scrapes them, their live metrics. Everything the
 * endpoint picker reads comes through these types.
 */
import { DEFAULT_NAMESPACE } from '../routing/references.ts';

/** Engine-neutral metrics of one model server, as last scraped. */
export interface EndpointMetrics {
  /** Requests queued, not yet running. */
  waiting: number;
  /** Requests in the running batch. */
  running: number;
  /** KV-cache use, 0..1. */
  kvUsage: number;
  /** LoRA adapters in the running batch. */
  activeAdapters: string[];
  /** LoRA adapters requested by waiting requests. */
  waitingAdapters: string[];
  /** Most distinct adapters a batch may hold (0 when unknown). */
  maxAdapters: number;
  /** Tokens per KV block (0 when unknown). */
  blockSize: number;
  /** KV blocks on the device (0 when unknown). */
  totalBlocks: number;
}

/** A model a server lists at `/v1/models`: a base model, or a LoRA adapter on `parent`. */
export interface ServedModel {
  id: string;
  parent?: string;
}

export interface Endpoint {
  /** `address:port`, the key everything else uses. */
  id: string;
  address: string;
  port: number;
  labels: Record<string, string>;
  /** Passes its health check / accepts connections as far as we know. */
  ready: boolean;
  /** vllm (default), sglang, trtllm, triton-trtllm. */
  engine: string;
  metrics?: EndpointMetrics;
  /** When the metrics were scraped (ms since epoch). */
  scrapedAt?: number;
  /** Why the last scrape failed, if it did. */
  lastError?: string;
  /** What the server lists at `/v1/models`; undefined until read (or when it does not answer it). */
  models?: ServedModel[];
}

/**
 * Which endpoints make up a pool: those whose labels match the selector, on
 * each of the target ports. The routing table's Pool is one.
 */
export interface PoolSelector {
  selector: Record<string, string>;
  targetPorts: number[];
  /** How its pods are reached: HTTP/1.1 (`http`, the default) or HTTP/2 cleartext with prior knowledge (`h2c`, a port's `appProtocol: kubernetes.io/h2c`). */
  appProtocol?: AppProtocol;
  /**
   * Its name in the routing table, which says its namespace (see `poolNamespace`): endpoints
   * discovered in Kubernetes belong to pools of their own namespace only.
   */
  name?: string;
}

/**
 * The namespace of a pool, read off its routing-table name (`namespace/name`, or `name` in
 * `default`: src/routing/references.ts), the one identity a pool keeps on every path, the
 * EndpointService's requests included. Undefined for a pool without a name: any namespace.
 */
export function poolNamespace(pool: PoolSelector): string | undefined {
  if (!pool.name) return undefined;
  const slash = pool.name.indexOf('/');
  return slash < 0 ? DEFAULT_NAMESPACE : pool.name.slice(0, slash);
}

/** The protocols a pool's pods may speak. */
export type AppProtocol = 'http' | 'h2c';

/** A pool by name and selector. */
export interface PoolRef extends PoolSelector {
  name: string;
}

/** One key per distinct namespace + selector + ports (label order does not matter): two pools selecting the same pods share it. */
export function poolKey(pool: PoolSelector): string {
  // Asked on every snapshot of every request: a pool of the routing table is one object for the table's life.
  let key = keys.get(pool);
  if (key === undefined) keys.set(pool, (key = computePoolKey(pool)));
  return key;
}

const keys = new WeakMap<PoolSelector, string>();

function computePoolKey(pool: PoolSelector): string {
  const labels = Object.keys(pool.selector).sort();
  let key = '';
  for (const k of labels) key += `${JSON.stringify(k)}=${JSON.stringify(pool.selector[k])},`;
  // Same labels in two namespaces are two sets of pods.
  const namespace = poolNamespace(pool);
  return `${namespace === undefined ? '' : `${JSON.stringify(namespace)}:`}${key}|${[...pool.targetPorts].sort((a, b) => a - b).join(',')}${pool.appProtocol === 'h2c' ? '|h2c' : ''}`;
}

/** The endpoints of one pool at one moment. */
export interface PoolSnapshot {
  pool: string;
  endpoints: Endpoint[];
  /** When this view was produced (ms since epoch). */
  at: number;
  /** True when metrics come from a live agent stream (else: endpoints only). */
  hasMetrics: boolean;
}

/** Where a gateway gets its endpoints from: an embedded agent, a remote agent. */
export interface EndpointSource {
  /** The current view of a pool (selector + ports come from the routing table). */
  snapshot(pool: PoolRef): PoolSnapshot;
  /** Why this source is not ready, or undefined when it is. */
  notReadyReason(): string | undefined;
  /**
   * Optional: start watching these pools ahead of the first request, and stop
   * watching pools no longer listed. Call it whenever the routing table changes.
   */
  prepare?(pools: readonly PoolRef[]): void;
  /** Optional: call `listener` when snapshots change (flow control dispatches on fresh metrics). Returns a stop function. */
  onChange?(listener: () => void): () => void;
  /**
   * Optional, for a source that receives its snapshots (a remote agent): resolves true once every pool being
   * watched has had its first one, false if `timeoutMs` passes first.
   */
  firstSnapshots?(timeoutMs: number): Promise<boolean>;
  close(): Promise<void> | void;
}
