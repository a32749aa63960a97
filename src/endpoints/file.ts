/**
 * A static endpoint source: the endpoints file, no metrics. Every selected
 * endpoint is considered ready; the data path's passive health checks take
 * refusing endpoints out for a while.
 */
import type { Endpoint, EndpointSource, PoolSnapshot } from './types.ts';
import { selectEndpoints, type EndpointEntry } from './file-schema.ts';

export class FileEndpointSource implements EndpointSource {
  #entries: EndpointEntry[];
  #cache = new Map<string, { key: string; endpoints: Endpoint[] }>();

  constructor(entries: EndpointEntry[]) {
    this.#entries = entries;
  }

  /** Replace the entries (the file changed). */
  update(entries: EndpointEntry[]): void {
    this.#entries = entries;
    this.#cache.clear();
  }

  snapshot(pool: { name: string; selector: Record<string, string>; targetPorts: number[] }): PoolSnapshot {
    const key = JSON.stringify([pool.selector, pool.targetPorts]);
    let cached = this.#cache.get(pool.name);
    if (!cached || cached.key !== key) {
      const endpoints = selectEndpoints(this.#entries, pool.selector, pool.targetPorts).map((e) => ({
        ...e,
        id: `${e.address}:${e.port}`,
        ready: true,
      }));
      cached = { key, endpoints };
      this.#cache.set(pool.name, cached);
    }
    return { pool: pool.name, endpoints: cached.endpoints, at: Date.now(), hasMetrics: false };
  }

  notReadyReason(): string | undefined {
    return this.#entries.length ? undefined : 'the endpoints file lists no endpoints';
  }

  close(): void {}
}
