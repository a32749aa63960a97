/**
 * The agent in-process: the gateway scrapes the pods of the endpoints file
 * itself (the default on a single machine). Snapshots are read straight from
 * the agent's state — no stream, no copy.
 */
import type { MetricsAgent } from './agent.ts';
import type { FileDiscovery } from './discovery.ts';
import { poolKey, type EndpointSource, type PoolRef, type PoolSnapshot } from '../endpoints/types.ts';

export class EmbeddedAgentSource implements EndpointSource {
  readonly #held = new Map<string, () => void>();

  constructor(
    readonly agent: MetricsAgent,
    readonly discovery?: FileDiscovery,
    readonly onClose: () => Promise<void> | void = () => {},
  ) {}

  snapshot(pool: PoolRef): PoolSnapshot {
    this.#hold(pool);
    const view = this.agent.view(pool);
    return { pool: pool.name, endpoints: view.endpoints, at: view.at, hasMetrics: true };
  }

  /** Start scraping these pools' endpoints now; stop holding pools no longer listed. */
  prepare(pools: readonly PoolRef[]): void {
    const keep = new Set(pools.map(poolKey));
    for (const [key, release] of this.#held) {
      if (keep.has(key)) continue;
      release();
      this.#held.delete(key);
    }
    for (const p of pools) this.#hold(p);
  }

  onChange(listener: () => void): () => void {
    return this.agent.onChange(listener);
  }

  notReadyReason(): string | undefined {
    if (this.discovery?.problem) return `endpoints file: ${this.discovery.problem}`;
    return this.agent.endpointCount ? undefined : 'the endpoints file lists no endpoints';
  }

  async close(): Promise<void> {
    for (const release of this.#held.values()) release();
    this.#held.clear();
    this.discovery?.stop();
    this.agent.stop();
    await this.onClose();
  }

  #hold(pool: PoolRef): void {
    const key = poolKey(pool);
    if (!this.#held.has(key)) this.#held.set(key, this.agent.acquire(pool));
  }
}

