/**
 * A replica built from a snapshot of the agent's index taken at any moment,
 * then fed the changes the agent's index reported after it, holds exactly
 * what the agent's index holds — whatever the events repeated (a BlockStored
 * sent again on a prefix hit) or split by KV-cache group (a block one group
 * drops and another keeps), and for pods that were cleared or left.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvBlockIndex } from './block-index.ts';
import { applyUpdates, snapshotOf, type IndexUpdate } from './index-updates.ts';
import type { KvEvent } from './events.ts';

const PODS = ['a', 'b', 'c'];
const hash = fc.integer({ min: 0, max: 30 }).map((n) => (BigInt(n % 4) << 62n) | BigInt(n));
const group = fc.constantFrom(null, 0, 1);
const event: fc.Arbitrary<KvEvent> = fc.oneof(
  fc.record({ hashes: fc.array(hash, { minLength: 1, maxLength: 5 }), cpu: fc.boolean(), group }).map(({ hashes, cpu, group }) => ({ type: 'BlockStored' as const, blockHashes: hashes, parentBlockHash: null, tokenIds: [], blockSize: 16, loraId: null, medium: cpu ? 'CPU' : 'GPU', loraName: null, groupIdx: group })),
  fc.record({ hashes: fc.array(hash, { minLength: 1, maxLength: 3 }), cpu: fc.boolean(), group }).map(({ hashes, cpu, group }) => ({ type: 'BlockRemoved' as const, blockHashes: hashes, medium: cpu ? 'CPU' : null, groupIdx: group })),
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
  it('snapshot + the changes reported after it rebuild the agent\'s index exactly, whenever the snapshot was taken', () => {
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
          } else primary.apply(s.pod, s.events, updates);
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
        // Every group dropping every block: the changes empty both alike.
        const last: IndexUpdate[] = [];
        for (const p of PODS) {
          for (const m of ['GPU', 'CPU']) {
            const held = primary.blocksOf(p, m);
            for (const g of [0, 1]) primary.apply(p, [{ type: 'BlockRemoved', blockHashes: held, medium: m, groupIdx: g }], last);
          }
        }
        applyUpdates(replica, last);
        expect(holdings(replica)).toBe(holdings(primary));
        expect(holdings(primary)).toBe(JSON.stringify(PODS.map((p) => [p, [], []])));
      }),
      { numRuns: 300 },
    );
  });

  it('reports a block once when it comes to be held and once when no group holds it any more', () => {
    const index = new KvBlockIndex();
    const stored = (groupIdx: number): KvEvent => ({ type: 'BlockStored', blockHashes: [5n], parentBlockHash: null, tokenIds: [], blockSize: 16, loraId: null, medium: 'GPU', loraName: null, groupIdx });
    const changes: IndexUpdate[] = [];
    index.apply('a', [stored(0), stored(0), stored(1), { type: 'BlockRemoved', blockHashes: [5n], medium: 'GPU', groupIdx: 0 }], changes);
    expect(changes).toEqual([{ kind: 'stored', pod: 'a', medium: 'GPU', hashes: [5n] }]);
    index.apply('a', [{ type: 'BlockRemoved', blockHashes: [5n], medium: 'GPU', groupIdx: 1 }], changes);
    expect(changes.at(-1)).toEqual({ kind: 'removed', pod: 'a', medium: 'GPU', hashes: [5n] });
  });
});
