/**
 * WatchKvIndex, the agent's side: the pool's index sent whole (in chunks),
 * then every change as the collector applies it, batched per message, with a
 * heartbeat each second of silence. A gateway whose stream falls behind by
 * more than `maxQueuedHashes` gets the whole index again rather than an
 * unbounded queue in the agent.
 */
import { create } from '@bufbuild/protobuf';
import type { HandlerContext } from '@connectrpc/connect';
import { KvIndexUpdateKind, KvIndexUpdateSchema, WatchKvIndexResponseSchema, type KvIndexUpdate, type WatchKvIndexResponse } from '../gen/infergate/v1/kv_index_pb.ts';
import type { KvEventsCollector } from '../kvevents/collector.ts';
import { snapshotOf, updateWeight, type IndexUpdate } from '../kvevents/index-updates.ts';

export interface WatchKvIndexOptions {
  heartbeatMs?: number;
  /** After a change, wait this long for more before sending (fewer, larger messages; default 5 ms). */
  flushMs?: number;
  /** Hashes per message. */
  chunkHashes?: number;
  /** Queued hashes past which the gateway is sent the whole index again. */
  maxQueuedHashes?: number;
}

const KIND = { stored: KvIndexUpdateKind.STORED, removed: KvIndexUpdateKind.REMOVED, cleared: KvIndexUpdateKind.CLEARED, forgotten: KvIndexUpdateKind.FORGOTTEN } as const;

export function toWireUpdate(u: IndexUpdate): KvIndexUpdate {
  return create(KvIndexUpdateSchema, { kind: KIND[u.kind], endpointId: u.pod, medium: 'medium' in u ? u.medium : '', blockHashes: 'hashes' in u ? (u.hashes as bigint[]) : [] });
}

/** Splits updates into messages of at most `chunk` hashes (a long update is cut). */
function* chunks(updates: readonly IndexUpdate[], chunk: number): Generator<IndexUpdate[]> {
  let out: IndexUpdate[] = [];
  let weight = 0;
  for (const u of updates) {
    if ('hashes' in u && u.hashes.length > chunk) {
      for (let i = 0; i < u.hashes.length; i += chunk) {
        if (out.length) yield out;
        out = [{ ...u, hashes: u.hashes.slice(i, i + chunk) }];
        weight = Math.min(chunk, u.hashes.length - i);
      }
      continue;
    }
    const w = 'hashes' in u ? u.hashes.length + 1 : 1;
    if (weight + w > chunk && out.length) {
      yield out;
      out = [];
      weight = 0;
    }
    out.push(u);
    weight += w;
  }
  if (out.length) yield out;
}

export async function* watchKvIndex(collector: KvEventsCollector, key: string, ctx: HandlerContext, options: WatchKvIndexOptions = {}): AsyncGenerator<WatchKvIndexResponse> {
  const heartbeatMs = options.heartbeatMs ?? 1000;
  const flushMs = options.flushMs ?? 5;
  const chunk = options.chunkHashes ?? 65_536;
  const maxQueued = options.maxQueuedHashes ?? 4_000_000;
  let queue: IndexUpdate[][] = [];
  let queued = 0;
  let overflow = false;
  let wake: (() => void) | undefined;
  const stop = collector.watch(key, (updates) => {
    if (overflow) return;
    queue.push(updates);
    queued += updateWeight(updates);
    if (queued > maxQueued) {
      overflow = true;
      queue = [];
      queued = 0;
    }
    wake?.();
  });
  const message = (updates: IndexUpdate[], reset: boolean, complete: boolean) =>
    create(WatchKvIndexResponseSchema, { reset, complete, updates: updates.map(toWireUpdate), indexUpdatedUnixMs: collector.updatedAt(key), sentUnixMs: Date.now() });
  function* whole(): Generator<WatchKvIndexResponse> {
    const parts = [...chunks(snapshotOf(collector.index(key)), chunk)];
    if (parts.length === 0) yield message([], true, true);
    for (let i = 0; i < parts.length; i++) yield message(parts[i]!, i === 0, i === parts.length - 1);
  }
  try {
    yield* whole();
    while (!ctx.signal.aborted) {
      if (queue.length === 0 && !overflow) {
        await new Promise<void>((resolve) => {
          const timer = setTimeout(done, heartbeatMs);
          function done() {
            clearTimeout(timer);
            ctx.signal.removeEventListener('abort', done);
            wake = undefined;
            resolve();
          }
          wake = done;
          ctx.signal.addEventListener('abort', done, { once: true });
        });
      }
      if (ctx.signal.aborted) break;
      // Gather what the next few ms bring: a pod publishes one batch per engine step, many pods at once.
      if (queue.length > 0 && flushMs > 0) await new Promise((r) => setTimeout(r, flushMs));
      if (ctx.signal.aborted) break;
      if (overflow) {
        overflow = false;
        yield* whole();
        continue;
      }
      const pending = queue.flat();
      queue = [];
      queued = 0;
      if (pending.length === 0) {
        yield message([], false, true);
        continue;
      }
      for (const part of chunks(pending, chunk)) yield message(part, false, true);
    }
  } finally {
    stop();
  }
}
