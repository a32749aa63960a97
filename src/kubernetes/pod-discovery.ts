/**
 * Discovery from the Kubernetes API: the pods of every InferencePool, kept
 * current by informers (pools of each served version, and pods), handed to
 * the agent as its entries after each change. Where the endpoints file's
 * discovery (src/agent/discovery.ts) re-reads a file, this one follows
 * watch events: a pod that appears, turns ready, turns not ready, starts
 * terminating or is deleted changes the agent's entries at that event.
 */
import type { EndpointEntry } from '../endpoints/file-schema.ts';
import { importObjects } from '../routing/manifests.ts';
import { endpointEntries, podEndpoint, poolSelection, type PodEndpoint, type PoolSelection } from './pods.ts';
import { objectKey, POD, type Informer, type KubeObject, type KubernetesPort } from './port.ts';
import { poolResourceTypes } from './resources.ts';

export interface PodDiscoveryOptions {
  /** One namespace, or undefined for all. */
  namespace?: string;
  log?: (line: Record<string, unknown>) => void;
}

export interface EntrySink {
  setEntries(entries: EndpointEntry[]): void;
}

export class KubernetesPodDiscovery {
  readonly #pods = new Map<string, PodEndpoint>();
  readonly #pools = new Map<string, PoolSelection>();
  readonly #informers: Informer[] = [];
  readonly #unsynced = new Set<string>();
  readonly #failing = new Map<string, string>();
  readonly #missing = new Set<string>();
  readonly #log: (line: Record<string, unknown>) => void;
  #scheduled = false;
  #firstSync: Promise<void>;
  #resolveFirstSync!: () => void;
  #lastEntries = '';

  constructor(
    readonly port: KubernetesPort,
    readonly sink: EntrySink,
    readonly options: PodDiscoveryOptions = {},
  ) {
    this.#log = options.log ?? (() => {});
    this.#firstSync = new Promise((resolve) => (this.#resolveFirstSync = resolve));
  }

  /**
   * Why there are no pods to go by: before the first list of pools and pods.
   * After it, a failing watch keeps the last known pods (see `lastError`): a
   * readiness probe must not take every replica out because the API hiccuped.
   */
  get problem(): string | undefined {
    if (!this.#unsynced.size) return undefined;
    return this.lastError ?? `waiting for the first list of ${[...this.#unsynced].join(', ')} from the Kubernetes API`;
  }

  /** The watches failing right now (retried with backoff), or undefined. */
  get lastError(): string | undefined {
    return this.#failing.size ? [...this.#failing].map(([what, why]) => `${what}: ${why}`).join('; ') : undefined;
  }

  /** True once pools and pods have each been listed (what follows are changes). */
  get listed(): boolean {
    return this.#unsynced.size === 0 && this.#informers.length > 0;
  }

  /** Start the informers; resolves when pools and pods have been listed once (or after `waitMs`). */
  async start(waitMs = 10_000): Promise<void> {
    const scope = { namespace: this.options.namespace };
    for (const type of poolResourceTypes()) {
      const name = `${type.plural}.${type.group}/${type.version}`;
      this.#unsynced.add(name);
      this.#informers.push(
        this.port.watch(type, scope, {
          upsert: (o) => this.#setPool(o),
          remove: (o) => this.#pools.delete(objectKey(o)) && this.#changed(),
          synced: () => this.#synced(name),
          unavailable: (error, retryInMs) => this.#unavailable(name, error, retryInMs),
          // A pool version whose CRD is not installed has no pools: not a problem.
          missing: (error) => this.#synced(name, error),
        }),
      );
    }
    this.#unsynced.add('pods');
    this.#informers.push(
      this.port.watch(POD, scope, {
        upsert: (o) => this.#setPod(o),
        remove: (o) => this.#pods.delete(objectKey({ ...o, kind: 'Pod' })) && this.#changed(),
        synced: () => this.#synced('pods'),
        unavailable: (error, retryInMs) => this.#unavailable('pods', error, retryInMs),
      }),
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.#firstSync, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  /** Hand the current entries to the sink again (they are already current: this recomputes them). */
  async reload(): Promise<boolean> {
    this.#flush(true);
    return this.problem === undefined;
  }

  stop(): void {
    for (const i of this.#informers) void i.stop();
    this.#informers.length = 0;
  }

  /** The pods known now, with their readiness (for tests and diagnostics). */
  pods(): PodEndpoint[] {
    return [...this.#pods.values()];
  }

  #setPool(o: KubeObject): void {
    // Judged as the routing table judges it: an invalid new version leaves the last accepted one
    // in use (src/kubernetes/routing-source.ts), so its pods must stay too.
    const accepted = importObjects([o]).objects[0]?.conditions.every((c) => c.type !== 'Accepted' || c.status === 'True');
    const selection = accepted ? poolSelection(o) : undefined;
    if (selection) this.#pools.set(objectKey(o), selection);
    else if (accepted) this.#pools.delete(objectKey(o));
    this.#changed();
  }

  #setPod(o: KubeObject): void {
    const pod = podEndpoint(o);
    const key = objectKey({ ...o, kind: 'Pod' });
    const before = this.#pods.get(key);
    if (pod) this.#pods.set(key, pod);
    else this.#pods.delete(key);
    if (pod?.draining && !before?.draining) this.#log({ level: 'info', msg: 'pod terminating: no new requests, in-flight ones finish', pod: `${pod.namespace}/${pod.name}`, address: pod.address });
    this.#changed();
  }

  #synced(name: string, note?: string): void {
    this.#failing.delete(name);
    // Retried with backoff in case the CRD is installed later; said once.
    if (note && !this.#missing.has(name)) this.#log({ level: 'info', msg: 'resource not served by this cluster; treated as empty', resource: name, detail: note });
    if (note) this.#missing.add(name);
    else this.#missing.delete(name);
    if (this.#unsynced.delete(name) && this.#unsynced.size === 0) this.#resolveFirstSync();
    this.#changed();
  }

  #unavailable(name: string, error: string, retryInMs: number): void {
    this.#failing.set(name, error);
    this.#log({ level: 'warn', msg: 'Kubernetes watch failed; keeping the last known pods and retrying', resource: name, error, retryInMs });
  }

  #changed(): true {
    if (!this.#scheduled) {
      this.#scheduled = true;
      // Coalesce the events of one list (or one burst) into one update of the agent.
      queueMicrotask(() => this.#flush(false));
    }
    return true;
  }

  #flush(force: boolean): void {
    this.#scheduled = false;
    const entries = endpointEntries(this.#pods.values(), [...this.#pools.values()]);
    const text = JSON.stringify(entries);
    if (!force && text === this.#lastEntries) return;
    this.#lastEntries = text;
    this.sink.setEntries(entries);
  }
}
