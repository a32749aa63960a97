/**
 * A replica built from a snapshot of the agent's index taken at any moment,
 * then fed the updates that followed, holds exactly what the agent's index
 * holds — including blocks a pod stored twice (two removals to forget) and
 * pods that were cleared or left.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvBlockIndex } from './block-index.ts';
import { applyUpdates, snapshotOf, updatesOf, type IndexUpdate } from './index-updates.ts';
import type { KvEvent } from './events.ts';

const PODS = ['a', 'b', 'c'];
const hash = fc.integer({ min: 0, max: 30 }).map((n) => (BigInt(n % 4) << 62n) | BigInt(n));
const event: fc.Arbitrary<KvEvent> = fc.oneof(
  fc.record({ hashes: fc.array(hash, { minLength: 1, maxLength: 5 }), cpu: fc.boolean() }).map(({ hashes, cpu }) => ({ type: 'BlockStored' as const, blockHashes: hashes, parentBlockHash: null, tokenIds: [], blockSize: 16, loraId: null, medium: cpu ? 'CPU' : 'GPU', loraName: null })),
  fc.record({ hashes: fc.array(hash, { minLength: 1, maxLength: 3 }), cpu: fc.boolean() }).map(({ hashes, cpu }) => ({ type: 'BlockRemoved' as const, blockHashes: hashes, medium: cpu ? 'CPU' : null })),
  fc.constant({ type: 'AllBlocksCleared' as const }),
);
const step = fc.oneof(
  { weight: 8, arbitrary: fc.record({ pod: fc.constantFrom(...PODS), events: fc.array(event, { maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ forget: fc.constantFrom(...PODS) }) },
);

function holdings(index: KvBlockIndex): string {
  return JSON.stringify(PODS.map((p) => [p, index.blocksOf(p, 'GPU').map(String), index.blocksOf(p, 'CPU').map(String)]));
}

describe('index updates', () => {
  it('snapshot + later updates rebuild the agent\'s index exactly, whenever the snapshot was taken', () => {
    fc.assert(
      fc.property(fc.array(step, { maxLength: 40 }), fc.nat(), fc.array(step, { maxLength: 20 }), (steps, cut, tail) => {
        const primary = new KvBlockIndex(4);
        const updates: IndexUpdate[] = [];
        const at = cut % (steps.length + 1);
        let replica: KvBlockIndex | undefined;
        const run = (s: (typeof steps)[number]) => {
          if ('forget' in s) {
            primary.clearPod(s.forget, true);
            updates.push({ kind: 'forgotten', pod: s.forget });
          } else {
            primary.apply(s.pod, s.events);
            updates.push(...updatesOf(s.pod, s.events));
          }
        };
        steps.forEach((s, i) => {
          if (i === at) {
            replica = new KvBlockIndex(4);
            applyUpdates(replica, snapshotOf(primary));
            updates.length = 0;
          }
          run(s);
        });
        if (!replica) {
          replica = new KvBlockIndex(4);
          applyUpdates(replica, snapshotOf(primary));
          updates.length = 0;
        }
        tail.forEach(run);
        applyUpdates(replica, updates);
        expect(holdings(replica)).toBe(holdings(primary));
        // Copies survive the snapshot: removing every block once more leaves both alike.
        for (const p of PODS) for (const m of ['GPU', 'CPU']) {
          const held = primary.blocksOf(p, m);
          primary.remove(p, held, m);
          replica.remove(p, held, m);
        }
        expect(holdings(replica)).toBe(holdings(primary));
      }),
      { numRuns: 300 },
    );
  });
});
