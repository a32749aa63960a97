/**
 * Passive health: an endpoint that refuses or resets connections is taken out
 * of rotation for a while (1 s, doubling per consecutive failure, up to 30 s),
 * so requests stop paying a failed attempt before the retry.
 */
import type { Endpoint, PoolSnapshot } from '../endpoints/types.ts';

export class OutlierDetector {
  readonly #ejected = new Map<string, { until: number; failures: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  /** The endpoint failed; returns whether this takes it out of rotation (it was in). */
  failed(endpoint: Endpoint): boolean {
    const prev = this.#ejected.get(endpoint.id);
    const failures = (prev?.failures ?? 0) + 1;
    const now = this.now();
    this.#ejected.set(endpoint.id, { failures, until: now + Math.min(30_000, 1000 * 2 ** (failures - 1)) });
    return prev === undefined || prev.until <= now;
  }

  succeeded(endpoint: Endpoint): void {
    if (this.#ejected.size) this.#ejected.delete(endpoint.id);
  }

  /**
   * The snapshot with ejected endpoints marked not ready. If that would leave
   * no endpoint ready, the snapshot is returned as is (better to try than to refuse).
   */
  apply(snapshot: PoolSnapshot): PoolSnapshot {
    if (this.#ejected.size === 0) return snapshot;
    const now = this.now();
    let changed = false;
    const endpoints = snapshot.endpoints.map((e) => {
      const ejected = this.#ejected.get(e.id);
      if (!ejected || !e.ready || ejected.until <= now) return e;
      changed = true;
      return { ...e, ready: false };
    });
    if (!changed || !endpoints.some((e) => e.ready)) return snapshot;
    return { ...snapshot, endpoints };
  }
}
