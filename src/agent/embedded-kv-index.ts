/**
 * The precise index in the gateway's own process (the embedded agent): the
 * collector's per-pool index read directly — the same index a remote agent's
 * KvIndexService serves, with nothing to copy and nothing to fall behind.
 */
import type { KvEventsCollector } from '../kvevents/collector.ts';
import type { KvIndexSource, KvPoolRef, PoolKvIndexView } from '../kvevents/index-view.ts';
import type { MetricsAgent } from './agent.ts';
import { kvPoolMembership, type KvEventsConvention } from './kv-index-service.ts';

export class EmbeddedKvIndex implements KvIndexSource {
  readonly #membership: (pool: KvPoolRef) => string;

  constructor(
    agent: MetricsAgent,
    readonly collector: KvEventsCollector,
    convention: KvEventsConvention,
  ) {
    this.#membership = kvPoolMembership(agent, collector, convention);
  }

  view(pool: KvPoolRef): PoolKvIndexView {
    const key = this.#membership(pool);
    const collector = this.collector;
    return {
      lookup: (hashes, pods) => collector.lookup(key, hashes, pods),
      updatedAt: collector.updatedAt(key),
      syncedAt: Date.now(),
    };
  }

  whyNot(): string {
    return '';
  }

  prepare(pools: readonly KvPoolRef[]): void {
    for (const p of pools) this.#membership(p);
  }

  async close(): Promise<void> {
    await this.collector.close();
  }
}
