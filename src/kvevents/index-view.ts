/**
 * The port through which a gateway's scheduler reads a pool's precise prefix
 * index: in-process from the embedded agent's collector, or from a local
 * copy kept in step with a remote agent's WatchKvIndex stream. Either way a
 * lookup is a synchronous call on this process's memory.
 */
import type { PrefixMatch } from './block-index.ts';

/** A pool as the routing table names it (the same shape as endpoints' PoolRef, restated: kvevents imports nothing). */
export interface KvPoolRef {
  name: string;
  selector: Record<string, string>;
  targetPorts: number[];
}

export interface PoolKvIndexView {
  /** How many leading blocks of the prompt each pod holds (pods without events: 0). */
  lookup(hashes: BigUint64Array, pods: readonly string[]): PrefixMatch[];
  /** When the agent's index last changed, ms since the epoch (0: never). */
  readonly updatedAt: number;
  /** When this copy was last known to equal the agent's index, ms since the epoch. */
  readonly syncedAt: number;
}

export interface KvIndexSource {
  /** The pool's index, or undefined when this process has no usable one for it (no events, not in step yet, or lost). */
  view(pool: KvPoolRef): PoolKvIndexView | undefined;
  /** Why `view` answers undefined for this pool (for the explanation). */
  whyNot(pool: KvPoolRef): string;
  /** Start following these pools before their first request (call on every routing-table change). */
  prepare?(pools: readonly KvPoolRef[]): void;
  close?(): Promise<void> | void;
}
