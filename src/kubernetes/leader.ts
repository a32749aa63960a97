/**
 * Leader election on a coordination.k8s.io/v1 Lease, with client-go's
 * leaderelection semantics (k8s.io/client-go/tools/leaderelection):
 * - a candidate reads the lease; when there is none it creates it holding it;
 * - another holder's lease counts as held until `leaseDurationSeconds` after
 *   this candidate last saw the record change — measured on this candidate's
 *   own clock, never by comparing the holder's renewTime with ours;
 * - taking the lease sets holderIdentity, acquireTime and renewTime and adds
 *   one to leaseTransitions; renewing sets renewTime only; every write is an
 *   update preconditioned on the resourceVersion read, so of two candidates
 *   racing only one wins (the other gets 409 and retries later);
 * - the leader renews every `retryPeriod`; if it cannot renew for
 *   `renewDeadline` it stops leading (before its lease can expire for others);
 * - on a clean stop the leader releases the lease (holderIdentity emptied,
 *   leaseDurationSeconds 1), so a successor takes over without waiting.
 * Defaults are client-go's: 15 s lease, 10 s renew deadline, 2 s retry period.
 */
import { KubeConflictError, type KubernetesPort, type LeaseRecord } from './port.ts';

export interface LeaderElectionOptions {
  namespace: string;
  name: string;
  identity: string;
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  now?: () => number;
  onStartedLeading?: () => void;
  onStoppedLeading?: () => void;
  log?: (line: Record<string, unknown>) => void;
}

/** metav1.MicroTime: RFC 3339 with microseconds. */
export function microTime(ms: number): string {
  return new Date(ms).toISOString().replace(/Z$/, '000Z');
}

export class LeaderElector {
  #leading = false;
  #observed: { record: string; at: number } | undefined;
  #lastRenew = 0;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #stopped = true;
  #tick: Promise<void> | undefined;
  readonly #o: Required<Omit<LeaderElectionOptions, 'onStartedLeading' | 'onStoppedLeading'>> & Pick<LeaderElectionOptions, 'onStartedLeading' | 'onStoppedLeading'>;

  constructor(
    readonly port: KubernetesPort,
    options: LeaderElectionOptions,
  ) {
    this.#o = {
      ...options,
      leaseDurationMs: options.leaseDurationMs ?? 15_000,
      renewDeadlineMs: options.renewDeadlineMs ?? 10_000,
      retryPeriodMs: options.retryPeriodMs ?? 2_000,
      now: options.now ?? Date.now,
      log: options.log ?? (() => {}),
    };
    if (!(this.#o.leaseDurationMs > this.#o.renewDeadlineMs && this.#o.renewDeadlineMs > this.#o.retryPeriodMs)) {
      throw new Error('leader election needs leaseDuration > renewDeadline > retryPeriod');
    }
  }

  get isLeader(): boolean {
    return this.#leading;
  }

  get identity(): string {
    return this.#o.identity;
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    this.#loop();
  }

  /** Stop competing; a leader releases the lease so another replica takes over at once. */
  async stop(): Promise<void> {
    this.#stopped = true;
    clearTimeout(this.#timer);
    await this.#tick;
    if (!this.#leading) return;
    this.#setLeading(false);
    try {
      const lease = await this.port.getLease(this.#o.namespace, this.#o.name);
      if (lease?.holderIdentity === this.#o.identity) {
        await this.port.replaceLease({ ...lease, holderIdentity: '', leaseDurationSeconds: 1, renewTime: microTime(this.#o.now()) });
      }
    } catch (err) {
      this.#o.log({ level: 'warn', msg: 'could not release the leader lease; it expires on its own', error: (err as Error).message });
    }
  }

  #loop(): void {
    if (this.#stopped) return;
    this.#tick = this.#tryAcquireOrRenew()
      .catch((err: unknown) => {
        this.#o.log({ level: 'warn', msg: 'leader election: lease read or write failed', error: (err as Error).message });
        return false;
      })
      .then((held) => {
        if (this.#stopped) return;
        const now = this.#o.now();
        if (held) this.#lastRenew = now;
        if (held && !this.#leading) this.#setLeading(true);
        // A leader that could not renew within the deadline steps down before others may take over.
        if (!held && this.#leading && now - this.#lastRenew >= this.#o.renewDeadlineMs) this.#setLeading(false);
      });
    void this.#tick.finally(() => {
      if (!this.#stopped) this.#timer = setTimeout(() => this.#loop(), this.#o.retryPeriodMs);
    });
  }

  #setLeading(leading: boolean): void {
    this.#leading = leading;
    this.#o.log({ level: 'info', msg: leading ? 'became the leader: writing status' : 'stopped leading', identity: this.#o.identity, lease: `${this.#o.namespace}/${this.#o.name}` });
    (leading ? this.#o.onStartedLeading : this.#o.onStoppedLeading)?.();
  }

  async #tryAcquireOrRenew(): Promise<boolean> {
    const now = this.#o.now();
    const me = this.#o.identity;
    const seconds = Math.ceil(this.#o.leaseDurationMs / 1000);
    const lease = await this.port.getLease(this.#o.namespace, this.#o.name);
    if (!lease) {
      try {
        await this.port.createLease({ namespace: this.#o.namespace, name: this.#o.name, holderIdentity: me, leaseDurationSeconds: seconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: 0 });
        return true;
      } catch (err) {
        if (err instanceof KubeConflictError) return false;
        throw err;
      }
    }
    const record = JSON.stringify([lease.holderIdentity, lease.renewTime, lease.acquireTime, lease.leaseDurationSeconds, lease.leaseTransitions]);
    if (this.#observed?.record !== record) this.#observed = { record, at: now };
    const heldByOther = !!lease.holderIdentity && lease.holderIdentity !== me;
    const duration = (lease.leaseDurationSeconds ?? seconds) * 1000;
    if (heldByOther && this.#observed.at + duration > now) return false;

    const next: LeaseRecord =
      lease.holderIdentity === me
        ? { ...lease, leaseDurationSeconds: seconds, renewTime: microTime(now) }
        : { ...lease, holderIdentity: me, leaseDurationSeconds: seconds, acquireTime: microTime(now), renewTime: microTime(now), leaseTransitions: (lease.leaseTransitions ?? 0) + 1 };
    try {
      const written = await this.port.replaceLease(next);
      this.#observed = { record: JSON.stringify([written.holderIdentity, written.renewTime, written.acquireTime, written.leaseDurationSeconds, written.leaseTransitions]), at: now };
      return true;
    } catch (err) {
      if (err instanceof KubeConflictError) return false;
      throw err;
    }
  }
}
