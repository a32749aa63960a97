/**
 * Writes the routing objects' status, as a well-behaved controller does:
 * - only while this replica leads (the others compute the same status and
 *   keep quiet: two writers would only undo each other);
 * - only when the status differs from the stored one (no write, no event,
 *   no loop through our own watch);
 * - a PUT of `/status` preconditioned on the resourceVersion it read; on a
 *   409 Conflict it reads the object again and recomputes from what is
 *   stored now (keeping other controllers' entries), a few times, then
 *   leaves it to the next change — never overwrites blindly.
 */
import { canonicalJson } from './canonical.ts';
import { timeNow } from './conditions.ts';
import { KubeConflictError, objectKey, type KubeObject, type KubernetesPort } from './port.ts';
import type { DesiredStatus } from './status.ts';

export interface StatusWriterOptions {
  isLeader(): boolean;
  /** Conflicts retried per object per round. */
  maxConflicts?: number;
  /** Wait after an error other than a conflict before trying again, ms. */
  retryAfterMs?: number;
  now?: () => number;
  log?: (line: Record<string, unknown>) => void;
}

export interface StatusWriterStats {
  writes: number;
  conflicts: number;
  errors: number;
}

export class StatusWriter {
  readonly stats: StatusWriterStats = { writes: 0, conflicts: 0, errors: 0 };
  #desired = new Map<string, DesiredStatus>();
  /** Our last write per object: the version it replaced, and what it stored (the informer may not have seen it yet). */
  readonly #written = new Map<string, { base: string | undefined; object: KubeObject }>();
  #running: Promise<void> | undefined;
  #again = false;
  #retry: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;
  readonly #o: Required<Omit<StatusWriterOptions, 'isLeader'>> & Pick<StatusWriterOptions, 'isLeader'>;

  constructor(
    readonly port: KubernetesPort,
    options: StatusWriterOptions,
  ) {
    this.#o = { isLeader: options.isLeader, maxConflicts: options.maxConflicts ?? 5, retryAfterMs: options.retryAfterMs ?? 1000, now: options.now ?? Date.now, log: options.log ?? (() => {}) };
  }

  /** The statuses as they should be now (replaces the previous set) — written if this replica leads. */
  set(desired: readonly DesiredStatus[]): void {
    this.#desired = new Map(desired.map((d) => [objectKey(d.object), d]));
    for (const key of this.#written.keys()) if (!this.#desired.has(key)) this.#written.delete(key);
    this.kick();
  }

  /** Write what differs (call when leadership is gained). */
  kick(): void {
    if (this.#stopped) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    this.#running = this.#round().finally(() => {
      this.#running = undefined;
      if (this.#again) {
        this.#again = false;
        this.kick();
      }
    });
  }

  /** Resolves when no round is running (tests, shutdown). */
  async idle(): Promise<void> {
    while (this.#running) await this.#running;
  }

  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
  }

  async #round(): Promise<void> {
    let failed = false;
    for (const d of [...this.#desired.values()]) {
      if (!this.#o.isLeader() || this.#stopped) return;
      try {
        await this.#write(d);
      } catch (err) {
        failed = true;
        this.stats.errors++;
        this.#o.log({ level: 'warn', msg: 'status write failed; retrying', object: objectKey(d.object), error: (err as Error).message });
      }
    }
    if (failed && !this.#stopped) {
      clearTimeout(this.#retry);
      this.#retry = setTimeout(() => this.kick(), this.#o.retryAfterMs);
    }
  }

  async #write(d: DesiredStatus): Promise<void> {
    const key = objectKey(d.object);
    const ours = this.#written.get(key);
    // The informer's copy may predate our own last write: start from what we stored instead of earning a 409.
    let object = ours && ours.base === d.object.metadata.resourceVersion ? ours.object : d.object;
    for (let attempt = 0; attempt <= this.#o.maxConflicts; attempt++) {
      const next = d.render(object.status, object.metadata.generation ?? 0, timeNow(this.#o.now()));
      if (canonicalJson(next) === canonicalJson(object.status ?? {})) return;
      try {
        const written = await this.port.replaceStatus(d.type, { ...object, status: next });
        this.stats.writes++;
        this.#written.set(key, { base: object.metadata.resourceVersion, object: written });
        return;
      } catch (err) {
        if (!(err instanceof KubeConflictError)) throw err;
        this.stats.conflicts++;
        const fresh = await this.port.get(d.type, object.metadata.namespace ?? 'default', object.metadata.name);
        if (!fresh) return; // deleted meanwhile: nothing to report on
        object = fresh;
      }
    }
    this.#o.log({ level: 'warn', msg: 'status kept conflicting; left to the next change', object: objectKey(d.object) });
  }
}
