/**
 * SGLang router's `cache_aware` policy, as its documentation and source
 * comments describe it (sgl-project/sglang, sgl-router; re-implemented from
 * that description, no code copied):
 *
 * - load = the router's own pending requests per worker;
 * - the system is imbalanced when max − min > balance_abs_threshold (32)
 *   AND max > balance_rel_threshold (1.1) × min: then route to the least
 *   loaded worker;
 * - otherwise find, in an approximate radix tree of the text sent to each
 *   worker, the worker with the longest prefix match; if match chars / prompt
 *   chars > cache_threshold (0.5) route there, else to the worker whose tree
 *   is smallest (most free cache, presumably);
 * - the chosen worker's tree gets the prompt either way; trees are LRU-evicted
 *   above max_tree_size characters (here in batches down to 90%).
 *
 * Approximation: the tree matches whole 64-character blocks (the simulator's
 * 16-token KV blocks) rather than single characters, so a match is rounded down
 * to 64 characters. Ties on the best match go to the less loaded worker.
 */
import type { Endpoint } from '../../../src/endpoints/types.ts';
import { blockHashes } from '../../../src/sim/text.ts';
import type { Decision, Scheduler, SchedulingRequest } from '../../../src/scheduling/scheduler.ts';
import { InFlightCounts } from './baselines.ts';

export interface CacheAwareOptions {
  cacheThreshold?: number;
  balanceAbsThreshold?: number;
  balanceRelThreshold?: number;
  /** Characters per worker tree before LRU eviction. */
  maxTreeChars?: number;
  /** Chained 64-character block hashes of a request's prompt (the harness may supply cached ones). */
  hashesOf?: (req: SchedulingRequest) => readonly number[];
  random: () => number;
}

const BLOCK_CHARS = 64;

class ApproxTree {
  readonly holders = new Map<number, number[]>();
  readonly lru: Array<Map<number, true>> = [];

  chars(slot: number): number {
    return (this.lru[slot]?.size ?? 0) * BLOCK_CHARS;
  }

  /** Matched blocks per slot, written into `out` (length = slots). */
  match(hashes: readonly number[], out: Int32Array): void {
    out.fill(0);
    for (let j = 0; j < hashes.length; j++) {
      const hs = this.holders.get(hashes[j]!);
      if (hs === undefined) return;
      let any = false;
      for (const s of hs) {
        if (out[s] === j) {
          out[s] = j + 1;
          any = true;
        }
      }
      if (!any) return;
    }
  }

  insert(slot: number, hashes: readonly number[], maxBlocks: number): void {
    let lru = this.lru[slot];
    if (lru === undefined) this.lru[slot] = lru = new Map();
    for (let j = hashes.length - 1; j >= 0; j--) {
      const h = hashes[j]!;
      if (lru.delete(h)) {
        lru.set(h, true);
        continue;
      }
      lru.set(h, true);
      const hs = this.holders.get(h);
      if (hs === undefined) this.holders.set(h, [slot]);
      else hs.push(slot);
    }
    // Evict in batches, down to 90% (SGLang evicts periodically, not per insert): one iterator pass,
    // where popping the oldest key one at a time would rescan the Map's deleted entries each time.
    if (lru.size > maxBlocks) {
      let excess = lru.size - Math.floor(maxBlocks * 0.9);
      for (const oldest of lru.keys()) {
        if (excess-- <= 0) break;
        lru.delete(oldest);
        const hs = this.holders.get(oldest)!;
        hs.splice(hs.indexOf(slot), 1);
        if (hs.length === 0) this.holders.delete(oldest);
      }
    }
  }
}

export function cacheAwareScheduler(options: CacheAwareOptions): Scheduler {
  const cacheThreshold = options.cacheThreshold ?? 0.5;
  const absThreshold = options.balanceAbsThreshold ?? 32;
  const relThreshold = options.balanceRelThreshold ?? 1.1;
  const maxBlocks = Math.floor((options.maxTreeChars ?? 2 ** 24) / BLOCK_CHARS);
  const hashesOf = options.hashesOf ?? ((r: SchedulingRequest) => blockHashes(r.prompt, 16, r.targetModel));
  const random = options.random;
  const inFlight = new InFlightCounts();
  const trees = new Map<string, ApproxTree>();
  const slots = new Map<string, number>();
  const pending = new WeakMap<SchedulingRequest, readonly number[]>();
  let matched = new Int32Array(64);

  const slotOf = (id: string): number => {
    let s = slots.get(id);
    if (s === undefined) slots.set(id, (s = slots.size));
    return s;
  };

  /** The endpoint minimising `key`, ties at random. */
  const argmin = (eps: Endpoint[], key: (e: Endpoint) => number): Endpoint => {
    let best = eps[0]!;
    let bestKey = Infinity;
    let ties = 0;
    for (const e of eps) {
      const k = key(e);
      if (k < bestKey) [best, bestKey, ties] = [e, k, 1];
      else if (k === bestKey && random() * ++ties < 1) best = e;
    }
    return best;
  };

  return {
    decide(pool, snapshot, request): Decision {
      const eps = snapshot.endpoints.filter((e) => e.ready);
      if (eps.length === 0) return { kind: 'unavailable', reason: 'no ready endpoint' };
      let max = -Infinity;
      let min = Infinity;
      for (const e of eps) {
        const l = inFlight.get(e.id);
        if (l > max) max = l;
        if (l < min) min = l;
      }
      const hashes = hashesOf(request);
      pending.set(request, hashes);
      if (max - min > absThreshold && max > relThreshold * min) {
        return { kind: 'route', endpoint: argmin(eps, (e) => inFlight.get(e.id)), fallbacks: [] };
      }
      let tree = trees.get(pool.name);
      if (tree === undefined) trees.set(pool.name, (tree = new ApproxTree()));
      for (const e of eps) slotOf(e.id);
      if (matched.length < slots.size) matched = new Int32Array(slots.size * 2);
      tree.match(hashes, matched);
      const t = tree;
      // Best match first (negated), then load as the tie-break.
      const best = argmin(eps, (e) => -matched[slotOf(e.id)]! * 1e6 + inFlight.get(e.id));
      const rate = (matched[slotOf(best.id)]! * BLOCK_CHARS) / Math.max(1, request.prompt.length);
      const endpoint = rate > cacheThreshold ? best : argmin(eps, (e) => t.chars(slotOf(e.id)) * 1e3 + inFlight.get(e.id));
      return { kind: 'route', endpoint, fallbacks: [] };
    },
    dispatched(pool, endpoint, request) {
      inFlight.add(endpoint.id, 1);
      let tree = trees.get(pool.name);
      if (tree === undefined) trees.set(pool.name, (tree = new ApproxTree()));
      const hashes = pending.get(request) ?? hashesOf(request);
      tree.insert(slotOf(endpoint.id), hashes, maxBlocks);
    },
    completed(_pool, endpoint) {
      inFlight.add(endpoint.id, -1);
    },
  };
}
