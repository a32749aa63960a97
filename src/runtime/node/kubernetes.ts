/**
 * The Kubernetes port (src/kubernetes/port.ts) over @kubernetes/client-node:
 * the kubeconfig from the usual places (KubeConfig.loadFromDefault: the
 * KUBECONFIG variable, ~/.kube/config, else the pod's service account), and
 * the library's informer (ListWatch, what makeInformer builds) for list +
 * watch: it lists, watches from the list's resourceVersion, resumes a watch
 * that ended from the last version it saw, and relists after 410 Gone. This
 * adapter adds what the library leaves to its caller: watch bookmarks
 * (allowWatchBookmarks=true on every watch), a restart with exponential
 * backoff after an error (the library's informer stops on one), and telling
 * "not served" (404: the CRD is not installed) and "not allowed" (403: RBAC)
 * apart from "failing".
 */
import {
  ApiException,
  CoordinationV1Api,
  CoreV1Api,
  CustomObjectsApi,
  KubeConfig,
  ListWatch,
  V1MicroTime,
  Watch,
  type KubernetesObject,
  type V1Lease,
} from '@kubernetes/client-node';
import { ConfigError } from '../../gateway/assemble.ts';
import { KubeConflictError, apiVersionOf, type Informer, type InformerHandlers, type KubeObject, type KubernetesPort, type LeaseRecord, type ResourceType, type WatchOptions } from '../../kubernetes/port.ts';

export interface NodeKubernetesOptions {
  /** First wait after a failed list or watch, ms; doubles up to maxBackoffMs. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
}

/** The kubeconfig: `text` (YAML) when given, else KUBECONFIG / ~/.kube/config / the in-cluster service account. */
export function loadKubeConfig(text?: string): KubeConfig {
  const kc = new KubeConfig();
  try {
    if (text) kc.loadFromString(text);
    else kc.loadFromDefault();
  } catch (err) {
    // A KUBECONFIG that names no file, a directory or no YAML: said in one line, as kubectl does.
    throw new ConfigError(`cannot load the kubeconfig${text ? '' : process.env.KUBECONFIG ? ` (KUBECONFIG=${process.env.KUBECONFIG})` : ''}: ${(err as Error).message.split('\n')[0]}`, []);
  }
  const cluster = kc.getCurrentCluster();
  // With nothing configured, client-node falls back to http://localhost:8080 (the API server's insecure port,
  // gone since Kubernetes 1.20): that is no cluster, not one to retry forever.
  if (!cluster || (cluster.name === 'cluster' && cluster.server === 'http://localhost:8080')) {
    throw new ConfigError('no Kubernetes cluster configured: set KUBECONFIG (or ~/.kube/config), or run in a pod with a service account', []);
  }
  return kc;
}

/** Ask for BOOKMARK events on every watch (the library's informer does not). */
class BookmarkWatch extends Watch {
  override watch(path: string, queryParams: Record<string, unknown>, callback: (phase: string, apiObj: unknown, watchObj?: unknown) => void, done: (err: unknown) => void): Promise<AbortController> {
    return super.watch(path, { ...queryParams, allowWatchBookmarks: true }, callback, done);
  }
}

const statusCode = (err: unknown): number | undefined => (err instanceof ApiException ? err.code : ((err as { statusCode?: number; code?: number }).statusCode ?? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : undefined)));

const describe = (err: unknown): string => {
  const code = statusCode(err);
  const body = err instanceof ApiException ? (err.body as { message?: string } | string | undefined) : undefined;
  const message = typeof body === 'object' && body?.message ? body.message : (err as Error)?.message || String(err);
  return code ? `HTTP ${code}: ${message.split('\n')[0]}` : message;
};

function toRecord(namespace: string, lease: V1Lease): LeaseRecord {
  const time = (t: Date | string | undefined) => (t === undefined ? undefined : t instanceof Date ? t.toISOString().replace(/Z$/, '000Z') : String(t));
  return {
    namespace,
    name: lease.metadata?.name ?? '',
    resourceVersion: lease.metadata?.resourceVersion,
    holderIdentity: lease.spec?.holderIdentity,
    leaseDurationSeconds: lease.spec?.leaseDurationSeconds,
    acquireTime: time(lease.spec?.acquireTime),
    renewTime: time(lease.spec?.renewTime),
    leaseTransitions: lease.spec?.leaseTransitions,
  };
}

function toLease(r: LeaseRecord): V1Lease {
  const time = (t: string | undefined) => (t ? new V1MicroTime(t) : undefined);
  return {
    apiVersion: 'coordination.k8s.io/v1',
    kind: 'Lease',
    metadata: { name: r.name, namespace: r.namespace, resourceVersion: r.resourceVersion },
    spec: { holderIdentity: r.holderIdentity, leaseDurationSeconds: r.leaseDurationSeconds, acquireTime: time(r.acquireTime), renewTime: time(r.renewTime), leaseTransitions: r.leaseTransitions },
  };
}

async function conflictAware<T>(call: () => Promise<T>): Promise<T> {
  try {
    return await call();
  } catch (err) {
    if (statusCode(err) === 409) throw new KubeConflictError(describe(err));
    throw err;
  }
}

export class NodeKubernetesPort implements KubernetesPort {
  readonly #core: CoreV1Api;
  readonly #custom: CustomObjectsApi;
  readonly #coordination: CoordinationV1Api;
  readonly #o: Required<NodeKubernetesOptions>;

  constructor(
    readonly kubeConfig: KubeConfig,
    options: NodeKubernetesOptions = {},
  ) {
    this.#core = kubeConfig.makeApiClient(CoreV1Api);
    this.#custom = kubeConfig.makeApiClient(CustomObjectsApi);
    this.#coordination = kubeConfig.makeApiClient(CoordinationV1Api);
    this.#o = { initialBackoffMs: options.initialBackoffMs ?? 500, maxBackoffMs: options.maxBackoffMs ?? 30_000 };
  }

  watch(type: ResourceType, options: WatchOptions, handlers: InformerHandlers): Informer {
    const { namespace, labelSelector } = options;
    const base = type.group ? `/apis/${type.group}/${type.version}` : '/api/v1';
    const clusterScoped = type.group === '' && type.plural === 'namespaces';
    const path = `${base}${namespace && !clusterScoped ? `/namespaces/${encodeURIComponent(namespace)}` : ''}/${type.plural}`;
    const list = (): Promise<{ metadata?: { resourceVersion?: string }; items: KubernetesObject[] }> => {
      // Namespaces are cluster-scoped: one list, never per namespace.
      if (!type.group && type.plural === 'namespaces') return this.#core.listNamespace({ labelSelector }) as Promise<{ items: KubernetesObject[] }>;
      if (!type.group) {
        return (namespace ? this.#core.listNamespacedPod({ namespace, labelSelector }) : this.#core.listPodForAllNamespaces({ labelSelector })) as Promise<{ items: KubernetesObject[] }>;
      }
      const ref = { group: type.group, version: type.version, plural: type.plural, labelSelector };
      return (namespace ? this.#custom.listNamespacedCustomObject({ ...ref, namespace }) : this.#custom.listClusterCustomObject(ref)) as Promise<{ items: KubernetesObject[] }>;
    };
    let backoff = this.#o.initialBackoffMs;
    let timer: ReturnType<typeof setTimeout> | undefined;
    let stopped = false;
    const informer = new ListWatch<KubernetesObject>(
      path,
      new BookmarkWatch(this.kubeConfig),
      async () => {
        const result = await list();
        backoff = this.#o.initialBackoffMs;
        // The informer applies the listed items right after this promise settles, in the same turn;
        // `synced` is due once they are applied, so it waits for the next macrotask.
        setTimeout(() => !stopped && handlers.synced(), 0);
        return result as never;
      },
      false,
      labelSelector,
    );
    const apiVersion = apiVersionOf(type);
    const typed = (o: KubernetesObject) => ({ ...(o as unknown as KubeObject), apiVersion, kind: type.kind });
    informer.on('add', (o) => handlers.upsert(typed(o)));
    informer.on('update', (o) => handlers.upsert(typed(o)));
    informer.on('delete', (o) => handlers.remove(typed(o)));
    informer.on('error', (err) => {
      if (stopped) return;
      const wait = backoff;
      backoff = Math.min(backoff * 2, this.#o.maxBackoffMs);
      const code = statusCode(err);
      if (code === 404) (handlers.missing ?? handlers.unavailable)(describe(err), wait);
      else if (code === 403) (handlers.forbidden ?? handlers.unavailable)(describe(err), wait);
      else handlers.unavailable(describe(err), wait);
      clearTimeout(timer);
      timer = setTimeout(() => void informer.start().catch((e: unknown) => handlers.unavailable(describe(e), wait)), wait);
    });
    void informer.start().catch((err: unknown) => handlers.unavailable(describe(err), backoff));
    return {
      async stop() {
        stopped = true;
        clearTimeout(timer);
        await informer.stop();
      },
    };
  }

  async get(type: ResourceType, namespace: string, name: string): Promise<KubeObject | undefined> {
    try {
      const o = type.group
        ? await this.#custom.getNamespacedCustomObject({ group: type.group, version: type.version, plural: type.plural, namespace, name })
        : await this.#core.readNamespacedPod({ namespace, name });
      return { ...(o as KubeObject), apiVersion: apiVersionOf(type), kind: type.kind };
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async replaceStatus(type: ResourceType, object: KubeObject): Promise<KubeObject> {
    if (!type.group) throw new Error(`replaceStatus: ${type.kind} is not a routing object`);
    const namespace = object.metadata.namespace ?? 'default';
    const written = await conflictAware(() =>
      this.#custom.replaceNamespacedCustomObjectStatus({ group: type.group, version: type.version, plural: type.plural, namespace, name: object.metadata.name, body: object }),
    );
    return { ...(written as KubeObject), apiVersion: apiVersionOf(type), kind: type.kind };
  }

  async getLease(namespace: string, name: string): Promise<LeaseRecord | undefined> {
    try {
      return toRecord(namespace, await this.#coordination.readNamespacedLease({ namespace, name }));
    } catch (err) {
      if (statusCode(err) === 404) return undefined;
      throw err;
    }
  }

  async createLease(lease: LeaseRecord): Promise<LeaseRecord> {
    return toRecord(lease.namespace, await conflictAware(() => this.#coordination.createNamespacedLease({ namespace: lease.namespace, body: toLease(lease) })));
  }

  async replaceLease(lease: LeaseRecord): Promise<LeaseRecord> {
    return toRecord(lease.namespace, await conflictAware(() => this.#coordination.replaceNamespacedLease({ namespace: lease.namespace, name: lease.name, body: toLease(lease) })));
  }
}
