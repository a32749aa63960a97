/**
 * Pods → the endpoints the agent scrapes and the gateway routes to.
 *
 * An InferencePool selects the pods of its own namespace whose labels match
 * its selector (v1: `spec.selector.matchLabels`; v1alpha2: `spec.selector`);
 * each selected pod is one endpoint per target port, at the pod's IP.
 * A pod counts only while it can take new requests: its Ready condition is
 * True and it has no `deletionTimestamp`. A pod that turns not ready or starts
 * terminating leaves the endpoints at once, as the Inference Extension's
 * endpoint picker removes such pods from its datastore: it gets no new
 * request, while the requests already proxied to it run to their end (the
 * proxy holds their connections). The pod's engine comes from the label
 * `infergate.dev/engine` (vllm when absent).
 */
import * as v from 'valibot';
import { Engine, type EndpointEntry } from '../endpoints/file-schema.ts';
import type { KubeObject } from './port.ts';

export const ENGINE_LABEL = 'infergate.dev/engine';

const PodFields = v.looseObject({
  metadata: v.looseObject({
    name: v.string(),
    namespace: v.optional(v.string()),
    labels: v.optional(v.record(v.string(), v.string()), {}),
    deletionTimestamp: v.optional(v.unknown()),
  }),
  status: v.optional(
    v.looseObject({
      podIP: v.optional(v.string()),
      conditions: v.optional(v.array(v.looseObject({ type: v.string(), status: v.string() })), []),
    }),
    {},
  ),
});

export interface PodEndpoint {
  namespace: string;
  name: string;
  /** The pod IP ('' before one is assigned). */
  address: string;
  labels: Record<string, string>;
  engine: EndpointEntry['engine'];
  /** Ready condition True, not terminating, with an IP: may take new requests. */
  ready: boolean;
  /** Terminating (deletionTimestamp set): finishing what it has, taking nothing new. */
  draining: boolean;
}

export function podEndpoint(pod: KubeObject): PodEndpoint | undefined {
  const parsed = v.safeParse(PodFields, pod);
  if (!parsed.success) return undefined;
  const { metadata, status } = parsed.output;
  const engine = v.safeParse(Engine, metadata.labels[ENGINE_LABEL] ?? 'vllm');
  const address = status.podIP ?? '';
  const draining = metadata.deletionTimestamp !== undefined && metadata.deletionTimestamp !== null;
  const readyCondition = status.conditions.some((c) => c.type === 'Ready' && c.status === 'True');
  return {
    namespace: metadata.namespace ?? 'default',
    name: metadata.name,
    address,
    labels: metadata.labels,
    engine: engine.success ? engine.output : 'vllm',
    ready: readyCondition && !draining && address !== '',
    draining,
  };
}

export interface PoolSelection {
  namespace: string;
  name: string;
  selector: Record<string, string>;
  targetPorts: number[];
}

const Labels = v.record(v.string(), v.string());
const PoolV1 = v.looseObject({ spec: v.looseObject({ selector: v.looseObject({ matchLabels: Labels }), targetPorts: v.array(v.looseObject({ number: v.number() })) }) });
const PoolV1Alpha2 = v.looseObject({ spec: v.looseObject({ selector: Labels, targetPortNumber: v.number() }) });

/** The pods an InferencePool selects (undefined when its spec does not say; the routing status reports why). */
export function poolSelection(pool: KubeObject): PoolSelection | undefined {
  const base = { namespace: pool.metadata.namespace ?? 'default', name: pool.metadata.name };
  const v1 = v.safeParse(PoolV1, pool);
  if (v1.success) return { ...base, selector: v1.output.spec.selector.matchLabels, targetPorts: v1.output.spec.targetPorts.map((p) => p.number) };
  const old = v.safeParse(PoolV1Alpha2, pool);
  if (old.success) return { ...base, selector: old.output.spec.selector, targetPorts: [old.output.spec.targetPortNumber] };
  return undefined;
}

/** Every label of the selector is on the pod with the same value (matchLabels; an empty selector selects nothing, as GIE requires one). */
export function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  const keys = Object.keys(selector);
  return keys.length > 0 && keys.every((k) => labels[k] === selector[k]);
}

/**
 * The agent's entries: each ready pod that a pool of its namespace selects,
 * once per target port of those pools (one scrape a pod:port, however many
 * pools share it). Ports are explicit because the agent scrapes explicit
 * entries as they come (port-less entries are expanded only when a pool is
 * first acquired, so a pod appearing later would be missed). Each carries its
 * namespace: the union of ports is for scraping, and a pool takes an entry
 * only in its own namespace and on its own ports (selectEndpoints).
 */
export function endpointEntries(pods: Iterable<PodEndpoint>, pools: readonly PoolSelection[]): EndpointEntry[] {
  const entries: EndpointEntry[] = [];
  for (const pod of pods) {
    if (!pod.ready) continue;
    const ports = new Set<number>();
    for (const p of pools) if (p.namespace === pod.namespace && selects(p.selector, pod.labels)) for (const port of p.targetPorts) ports.add(port);
    for (const port of [...ports].sort((a, b) => a - b)) entries.push({ address: pod.address, port, labels: pod.labels, engine: pod.engine, namespace: pod.namespace });
  }
  return entries;
}
