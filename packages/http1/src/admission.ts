/**
 * Connection caps: at most `max` connections at once, and at most `perClient`
 * from one client address, so that one client (or a flood) cannot hold every
 * file descriptor. A connection over a cap is closed at once, unanswered (as
 * nginx's `limit_conn` and Node's `server.maxConnections` do), and counted.
 *
 * Behind a load balancer that rewrites the source address (a Kubernetes
 * Service with `externalTrafficPolicy: Cluster`), every client may come from a
 * few addresses: raise `perClient` there, or set it to the total.
 */
export interface ConnectionStats {
  /** Connections open now. */
  open: number;
  /** Connections closed at once because a cap was reached, since the start. */
  refused: number;
  /** Of those, because one client address had `perClient` open. */
  refusedPerClient: number;
}

export class Admission {
  readonly #perAddress = new Map<string, number>();
  readonly stats: ConnectionStats = { open: 0, refused: 0, refusedPerClient: 0 };

  constructor(
    readonly max: number,
    readonly perClient: number,
  ) {}

  /** Admit a connection from `address`; false when a cap is reached (the caller closes it). */
  admit(address: string): boolean {
    const stats = this.stats;
    if (stats.open >= this.max) {
      stats.refused++;
      return false;
    }
    const n = this.#perAddress.get(address) ?? 0;
    if (n >= this.perClient) {
      stats.refused++;
      stats.refusedPerClient++;
      return false;
    }
    this.#perAddress.set(address, n + 1);
    stats.open++;
    return true;
  }

  /** An admitted connection closed. */
  release(address: string): void {
    this.stats.open--;
    const n = this.#perAddress.get(address) ?? 1;
    if (n <= 1) this.#perAddress.delete(address);
    else this.#perAddress.set(address, n - 1);
  }
}
