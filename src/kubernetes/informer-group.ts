/**
 * The informers of one consumer (the routing source, pod discovery) and what
 * they have done: which resources are not listed yet, which watches fail now,
 * which CRDs are not installed (said once, treated as empty), which optional
 * resources RBAC does not let us read (said once, treated as empty). Each
 * watch is added with the consumer's own upsert/remove; the group fills in
 * the rest.
 */
import type { Informer, KubernetesPort, ResourceType, InformerHandlers } from './port.ts';

export interface InformerGroupOptions {
  log: (line: Record<string, unknown>) => void;
  /** What a failing watch leaves in place, for its warning: "keeping the routing table". */
  keeping: string;
  /** Called after each listing (a change of the picture). */
  changed: () => void;
}

export class InformerGroup {
  readonly #informers: Informer[] = [];
  readonly #unsynced = new Set<string>();
  readonly #failing = new Map<string, string>();
  readonly #missing = new Set<string>();
  #resolveFirstSync!: () => void;
  /** Resolves once every resource added has been listed once. */
  readonly firstSync = new Promise<void>((resolve) => (this.#resolveFirstSync = resolve));

  constructor(
    readonly port: KubernetesPort,
    readonly options: InformerGroupOptions,
  ) {}

  /**
   * Watch `type` as `name`; a resource the cluster does not serve counts as listed and empty when
   * `mayBeMissing`, and one we may not read (403) when `mayBeForbidden` (an optional input: the rest
   * must not wait on it).
   */
  watch(name: string, type: ResourceType, namespace: string | undefined, handlers: Pick<InformerHandlers, 'upsert' | 'remove'>, mayBeMissing = true, mayBeForbidden = false): void {
    this.#unsynced.add(name);
    this.#informers.push(
      this.port.watch(type, { namespace }, {
        ...handlers,
        synced: () => this.#listed(name),
        unavailable: (error, retryInMs) => {
          this.#failing.set(name, error);
          this.options.log({ level: 'warn', msg: `Kubernetes watch failed; ${this.options.keeping} and retrying`, resource: name, error, retryInMs });
        },
        ...(mayBeMissing ? { missing: (error: string) => this.#listed(name, { missing: error }) } : {}),
        ...(mayBeForbidden ? { forbidden: (error: string) => this.#listed(name, { forbidden: error }) } : {}),
      }),
    );
  }

  /** Resolves when everything has been listed once, or after `waitMs`. */
  async waitForFirstSync(waitMs: number): Promise<void> {
    let timer: ReturnType<typeof setTimeout> | undefined;
    await Promise.race([this.firstSync, new Promise<void>((resolve) => (timer = setTimeout(resolve, waitMs)))]);
    clearTimeout(timer);
  }

  /** Resources not listed yet. */
  get unsynced(): number {
    return this.#unsynced.size;
  }

  /** True once every resource added has been listed. */
  get listed(): boolean {
    return this.#unsynced.size === 0 && this.#informers.length > 0;
  }

  /** The watches failing right now (retried with backoff), or undefined. */
  get failing(): string | undefined {
    return this.#failing.size ? [...this.#failing].map(([what, why]) => `${what}: ${why}`).join('; ') : undefined;
  }

  /** Before the first listing: what is still awaited. */
  get waiting(): string | undefined {
    return this.#unsynced.size ? `waiting for the first list of ${[...this.#unsynced].join(', ')} from the Kubernetes API` : undefined;
  }

  stop(): void {
    for (const i of this.#informers) void i.stop();
    this.#informers.length = 0;
  }

  #listed(name: string, absent: { missing?: string; forbidden?: string } = {}): void {
    this.#failing.delete(name);
    // Retried with backoff in case the CRD is installed (or the RBAC rule granted) later; said once.
    const why = absent.missing ?? absent.forbidden;
    if (why && !this.#missing.has(name)) {
      const msg = absent.missing ? 'resource not served by this cluster (CRD not installed?); treated as empty' : 'not allowed to read this resource (RBAC); treated as empty';
      this.options.log({ level: 'info', msg, resource: name, detail: why });
    }
    if (why) this.#missing.add(name);
    else this.#missing.delete(name);
    if (this.#unsynced.delete(name) && this.#unsynced.size === 0) this.#resolveFirstSync();
    this.options.changed();
  }
}
