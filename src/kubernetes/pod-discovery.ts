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
import { InformerGroup } from './informer-group.ts';
import { objectKey, POD, type KubeObject, type KubernetesPort } from './port.ts';
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
  readonly #informers: InformerGroup;
  readonly #log: (line: Record<string, unknown>) => void;
  #scheduled = false;
  #lastEntries = '';

  constructor(
    readonly port: KubernetesPort,
    readonly sink: EntrySink,
    readonly options: PodDiscoveryOptions = {},
  ) {
    this.#log = options.log ?? (() => {});
    this.#informers = new InformerGroup(port, { log: this.#log, keeping: 'keeping the last known pods', changed: () => this.#changed() });
  }

  /**
   * Why there are no pods to go by: before the first list of pools and pods.
   * After it, a failing watch keeps the last known pods (see `lastError`): a
   * readiness probe must not take every replica out because the API hiccuped.
   */
  get problem(): string | undefined {
    if (!this.#informers.unsynced) return undefined;
    return this.lastError ?? this.#informers.waiting;
  }

  /** The watches failing right now (retried with backoff), or undefined. */
  get lastError(): string | undefined {
    return this.#informers.failing;
  }

  /** True once pools and pods have each been listed (what follows are changes). */
  get listed(): boolean {
    return this.#informers.listed;
  }

  /** Start the informers; resolves when pools and pods have been listed once (or after `waitMs`). */
  async start(waitMs = 10_000): Promise<void> {
    const namespace = this.options.namespace;
    for (const type of poolResourceTypes()) {
      // A pool version whose CRD is not installed has no pools: not a problem.
      this.#informers.watch(`${type.plural}.${type.group}/${type.version}`, type, namespace, {
        upsert: (o) => this.#setPool(o),
        remove: (o) => this.#pools.delete(objectKey(o)) && this.#changed(),
      });
    }
    this.#informers.watch('pods', POD, namespace, {
      upsert: (o) => this.#setPod(o),
      remove: (o) => this.#pods.delete(objectKey({ ...o, kind: 'Pod' })) && this.#changed(),
    }, false);
    await this.#informers.waitForFirstSync(waitMs);
  }

  /** Hand the current entries to the sink again (they are already current: this recomputes them). */
  async reload(): Promise<boolean> {
    this.#flush(true);
    return this.problem === undefined;
  }

  stop(): void {
    this.#informers.stop();
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
