/**
 * What infergate needs from a Kubernetes API server, as a port: the core
 * (src/kubernetes/) holds this interface and never the client library; the
 * Node adapter (src/runtime/node/kubernetes.ts) implements it with
 * @kubernetes/client-node. A test may implement it over anything that keeps
 * the same promises.
 */

/** A resource type as the API serves it (the URL's group, version and plural; the object's kind). */
import { groupOf } from '../routing/references.ts';
export interface ResourceType {
  /** '' for the core group. */
  group: string;
  version: string;
  plural: string;
  kind: string;
}

export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** An object as the API serves it (JSON; timestamps as RFC 3339 strings). */
export interface KubeObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  spec?: unknown;
  status?: unknown;
}

/**
 * An informer's callbacks. `synced` follows every complete list (the first,
 * and each relist after 410 Gone): the objects passed to `upsert` since it
 * and still there are the whole state. `unavailable` reports a failure the
 * informer retries on its own (backoff); `missing` says the resource type is
 * not served at all (its CRD is not installed), `forbidden` that RBAC does
 * not let us read it; both also retried.
 */
export interface InformerHandlers {
  upsert(object: KubeObject): void;
  remove(object: KubeObject): void;
  synced(): void;
  unavailable(error: string, retryInMs: number): void;
  missing?(error: string, retryInMs: number): void;
  /** This identity may not list or watch the type (403, RBAC); retried, as the grant may come later. Without it: `unavailable`. */
  forbidden?(error: string, retryInMs: number): void;
}

export interface WatchOptions {
  /** Watch one namespace; undefined: all namespaces. */
  namespace?: string;
  /** A label selector in the API's syntax (`a=b,c=d`). */
  labelSelector?: string;
}

export interface Informer {
  stop(): Promise<void>;
}

/** The object changed since it was read (HTTP 409): read it again and redo the change. */
export class KubeConflictError extends Error {
  readonly conflict = true;
}

/** The lease as `coordination.k8s.io/v1` holds it (times are RFC 3339 with microseconds). */
export interface LeaseRecord {
  namespace: string;
  name: string;
  resourceVersion?: string;
  holderIdentity?: string;
  leaseDurationSeconds?: number;
  acquireTime?: string;
  renewTime?: string;
  leaseTransitions?: number;
}

export interface KubernetesPort {
  /** List, then watch from the list's resourceVersion; relist on 410; retry with backoff on errors. */
  watch(type: ResourceType, options: WatchOptions, handlers: InformerHandlers): Informer;
  /** The object as stored now, or undefined when it does not exist. */
  get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined>;
  /** PUT the object's `/status` (its metadata.resourceVersion is the precondition). Throws KubeConflictError on 409. */
  replaceStatus(type: ResourceType, object: KubeObject): Promise<KubeObject>;
  getLease(namespace: string, name: string): Promise<LeaseRecord | undefined>;
  /** Throws KubeConflictError when it already exists. */
  createLease(lease: LeaseRecord): Promise<LeaseRecord>;
  /** Throws KubeConflictError when `lease.resourceVersion` is not the stored one. */
  replaceLease(lease: LeaseRecord): Promise<LeaseRecord>;
}

export const POD: ResourceType = { group: '', version: 'v1', plural: 'pods', kind: 'Pod' };
/**
 * Namespaces, for their labels: a Gateway listener's `allowedRoutes.namespaces.from: Selector` matches
 * a route's namespace by them. Cluster-scoped, so a Role cannot grant them (Kubernetes RBAC, "Role and
 * ClusterRole"): a single-namespace install may be refused (403) and must work without them.
 */
export const NAMESPACE: ResourceType = { group: '', version: 'v1', plural: 'namespaces', kind: 'Namespace' };

export function apiVersionOf(type: ResourceType): string {
  return type.group ? `${type.group}/${type.version}` : type.version;
}

/**
 * An object's identity: kind, API group, namespace, name (`InferencePool.inference.networking.k8s.io/ns/name`).
 * The group is part of it: GIE's GA migration keeps a v1 and an alpha InferencePool of one name side by side,
 * two objects; the versions of one group are one object and share a key.
 */
export function objectKey(o: { apiVersion?: string; kind: string; metadata: { namespace?: string; name: string } }): string {
  const group = groupOf(o.apiVersion ?? '');
  return `${o.kind}${group ? `.${group}` : ''}/${o.metadata.namespace ?? ''}/${o.metadata.name}`;
}
