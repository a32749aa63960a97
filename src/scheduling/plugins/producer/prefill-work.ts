/**
 * prefill-work-producer: the prefill this gateway has queued on each
 * endpoint, for the prefill-work scorer (../scorer/prefill-work.ts), which
 * rates less prefill ahead of this request's first token as better. Per
 * endpoint the cost is, in 64-byte prompt blocks (≈ 16 tokens):
 *
 *   pending uncached prompt blocks of this gateway's requests dispatched there
 *   that have not produced their first token yet
 *   + this prompt's blocks the endpoint does not hold (prompt − prefix match)
 *
 * and the kernel scores 1 − (cost − min) / max(max − min, span), clamped to
 * [0, 1] (`minRangeTokens` sets span; 0 is plain min-max).
 *
 * Why work, not requests: time to first token is dominated by the prefill
 * queued ahead of the request plus its own prefill, and request counts (queue,
 * in-flight) treat a 50-token and an 8k-token prompt alike; prefix affinity as
 * a share of the prompt cannot weigh "9k tokens already cached there" against
 * "another 8k-token prefill is running there". In one unit the two are
 * comparable: a warm prompt stays on its holder unless the work queued there
 * exceeds what the match saves, a cold one goes where the least work waits.
 *
 * The match comes from the approx-prefix-cache producer of the same profile
 * (which runs first); without one, every prompt counts as uncached. A request
 * leaves the pending work at its first token (the data path's `firstToken`
 * callback) or when it completes, whichever comes first.
 */
import type { Endpoint } from '../../../endpoints/types.ts';
import type { Pool } from '../../../routing/schema.ts';
import { BLOCK_BYTES, MAX_ENDPOINTS } from '../../kernel/layout.ts';
import { APPROX_PREFIX_CACHE_PRODUCER } from './approx-prefix-cache.ts';
import type { EndpointRecord } from '../../pool-state.ts';
import { requestKey, type SchedulingRequest } from '../../scheduler.ts';
import type { ProducerPlugin } from '../types.ts';

/** ~4 characters per token, 64-byte blocks: 16 tokens per block. */
const TOKENS_PER_BLOCK = 16;

interface Pending {
  pool: string;
  slot: number;
  blocks: number;
}

/** Pending work per endpoint slot of one pool. */
class PoolWork {
  blocks = new Float64Array(16);
  count = new Int32Array(16);

  grow(slot: number): void {
    if (slot < this.blocks.length) return;
    let size = this.blocks.length;
    while (size <= slot) size *= 2;
    const b = new Float64Array(size);
    b.set(this.blocks);
    const c = new Int32Array(size);
    c.set(this.count);
    this.blocks = b;
    this.count = c;
  }
}

export const PREFILL_WORK_PRODUCER = 'prefill-work-producer';

export function createPrefillWorkProducer(name = PREFILL_WORK_PRODUCER): ProducerPlugin {
  const pools = new Map<string, PoolWork>();
  const pending = new Map<string, Pending>();
  // The last decision's candidates (slots) and their prefix match, for the dispatch that follows it.
  let lastRequest: SchedulingRequest | undefined;
  let lastPool: string | undefined;
  let lastCount = 0;
  const lastSlots = new Int32Array(MAX_ENDPOINTS);
  const lastMatched = new Float64Array(MAX_ENDPOINTS);

  const poolWork = (name: string) => {
    let w = pools.get(name);
    if (w === undefined) {
      w = new PoolWork();
      pools.set(name, w);
    }
    return w;
  };

  function release(key: string): void {
    const p = pending.get(key);
    if (p === undefined) return;
    pending.delete(key);
    const w = pools.get(p.pool);
    if (w === undefined) return;
    const c = --w.count[p.slot]!;
    // Sums of fractions drift: an endpoint with nothing pending has exactly 0.
    w.blocks[p.slot] = c <= 0 ? 0 : Math.max(0, w.blocks[p.slot]! - p.blocks);
    if (c < 0) w.count[p.slot] = 0;
  }

  return {
    kind: 'producer',
    type: PREFILL_WORK_PRODUCER,
    name,
    // Either prefix producer writes the match it reads (precise-prefix-cache-producer by its type name: no import cycle).
    after: [APPROX_PREFIX_CACHE_PRODUCER, 'precise-prefix-cache-producer'],
    produce(candidates, ctx) {
      const k = ctx.kernel;
      const n = candidates.length;
      if (!ctx.prefixMatched) {
        k.prefixMatched.fill(0, 0, n);
        ctx.promptBlocks = 0;
      }
      const w = poolWork(ctx.pool.name);
      lastRequest = ctx.request;
      lastPool = ctx.pool.name;
      lastCount = Math.min(n, MAX_ENDPOINTS);
      for (let i = 0; i < n; i++) {
        const slot = candidates[i]!.record.slot;
        w.grow(slot);
        k.pendingWork[i] = w.blocks[slot]!;
        if (i < MAX_ENDPOINTS) {
          lastSlots[i] = slot;
          lastMatched[i] = k.prefixMatched[i]!;
        }
      }
    },
    dispatched(pool: Pool, _endpoint: Endpoint, record: EndpointRecord, request: SchedulingRequest) {
      release(requestKey(request));
      const slot = record.slot;
      let matched = 0;
      if (lastRequest === request && lastPool === pool.name) {
        for (let i = 0; i < lastCount; i++) {
          if (lastSlots[i] === slot) {
            matched = lastMatched[i]!;
            break;
          }
        }
      }
      const blocks = Math.max(0, request.prompt.length / BLOCK_BYTES - matched);
      const w = poolWork(pool.name);
      w.grow(slot);
      w.blocks[slot] = w.blocks[slot]! + blocks;
      w.count[slot] = w.count[slot]! + 1;
      pending.set(requestKey(request), { pool: pool.name, slot, blocks });
    },
    pendingPrefillTokens(pool, record) {
      const w = pools.get(pool);
      return w === undefined || record.slot >= w.blocks.length ? 0 : w.blocks[record.slot]! * TOKENS_PER_BLOCK;
    },
    firstToken(_pool, _endpoint, _record, request) {
      release(requestKey(request));
    },
    completed(_pool, _endpoint, _record, request) {
      release(requestKey(request));
    },
  };
}
