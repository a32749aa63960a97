/**
 * What changes in a pool's precise index, in the compact form a replica
 * needs (hashes and media, no token ids): the agent's index reports what each
 * pod's KV-event batch changed (`KvBlockIndex.apply`: a block newly held, a
 * block no longer held — not the events themselves, which may repeat a store
 * or remove one KV-cache group's copy of a block another group keeps) and
 * streams that to every gateway, which applies it to its own copy of the
 * index in the same order — so every replica holds the agent's index, and a
 * decision reads it without a round trip.
 */
import type { KvBlockIndex } from './block-index.ts';

export type IndexUpdate =
  | { kind: 'stored' | 'removed'; pod: string; medium: string; hashes: readonly bigint[] }
  /** The pod's entries were dropped (AllBlocksCleared, a resync after a gap). */
  | { kind: 'cleared'; pod: string }
  /** The pod left the pool. */
  | { kind: 'forgotten'; pod: string };

/** Applies updates to a replica, in order. */
export function applyUpdates(index: KvBlockIndex, updates: readonly IndexUpdate[]): void {
  for (const u of updates) {
    if (u.kind === 'stored') index.store(u.pod, u.hashes, u.medium);
    else if (u.kind === 'removed') index.remove(u.pod, u.hashes, u.medium);
    else index.clearPod(u.pod, u.kind === 'forgotten');
  }
}

/** The updates that rebuild `index` from empty (a replica's first message). */
export function snapshotOf(index: KvBlockIndex): IndexUpdate[] {
  const out: IndexUpdate[] = index.dump().map((d) => ({ kind: 'stored' as const, pod: d.pod, medium: d.medium, hashes: d.hashes }));
  // Pods that hold nothing still belong to the pool (a lookup answers 0 for them).
  const seen = new Set(out.map((u) => u.pod));
  for (const pod of index.pods) if (!seen.has(pod)) out.push({ kind: 'cleared', pod });
  return out;
}

/** Hashes carried by a list of updates (to size stream messages). */
export function updateWeight(updates: readonly IndexUpdate[]): number {
  let n = 0;
  for (const u of updates) n += 'hashes' in u ? u.hashes.length + 1 : 1;
  return n;
}
