/**
 * The typed-array index against a plain model (Map of hash → pod → KV-cache
 * groups holding it), under random stores, removals (deletion shifts keys
 * within probe runs), pod clears and lookups — small hash ranges force
 * collisions and sharing. A store is idempotent per (pod, medium, group,
 * hash); a block is held while any of its groups holds it.
 */
import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { encodeBatch, decodeBatch } from './codec.ts';
import { KvBlockIndex } from './block-index.ts';
import type { KvEvent } from './events.ts';

const PODS = ['a', 'b', 'c', 'd', 'e'];
// Hashes that collide on their low half and straddle 2^63, to stress probing.
const hash = fc.integer({ min: 0, max: 40 }).map((n) => (BigInt(n % 7) << 61n) | BigInt(n % 5));
// null: an engine that sends no group_idx (it means group 0).
const group = fc.constantFrom(null, 0, 0, 1, 2);
const op = fc.oneof(
  fc.record({ kind: fc.constant('store' as const), pod: fc.constantFrom(...PODS), hashes: fc.array(hash, { maxLength: 6 }), cpu: fc.boolean(), group }),
  fc.record({ kind: fc.constant('remove' as const), pod: fc.constantFrom(...PODS), hashes: fc.array(hash, { maxLength: 6 }), cpu: fc.boolean(), group }),
  fc.record({ kind: fc.constant('clear' as const), pod: fc.constantFrom(...PODS) }),
);

afterEach(() => vi.restoreAllMocks());

describe('KvBlockIndex', () => {
  it('agrees with a plain model under any sequence of stores, removals and clears', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.array(hash, { maxLength: 12 }), (ops, prompt) => {
        const index = new KvBlockIndex(4);
        const model = new Map<string, Map<string, Set<number>>>(); // medium:hash → pod → groups holding it
        for (const o of ops) {
          if (o.kind === 'clear') {
            index.clearPod(o.pod);
            for (const holders of model.values()) holders.delete(o.pod);
            continue;
          }
          const medium = o.cpu ? 'CPU' : 'GPU';
          if (o.kind === 'store') index.store(o.pod, o.hashes, medium, o.group);
          else index.remove(o.pod, o.hashes, medium, o.group);
          for (const h of o.hashes) {
            const k = `${medium}:${h}`;
            const holders = model.get(k) ?? new Map<string, Set<number>>();
            model.set(k, holders);
            const groups = holders.get(o.pod) ?? new Set<number>();
            if (o.kind === 'store') groups.add(o.group ?? 0);
            else groups.delete(o.group ?? 0);
            if (groups.size > 0) holders.set(o.pod, groups);
            else holders.delete(o.pod);
          }
        }
        for (const pod of PODS) {
          for (const medium of ['GPU', 'CPU']) {
            const want = [...model.entries()].filter(([k, hs]) => k.startsWith(medium) && hs.has(pod)).map(([k]) => BigInt(k.split(':')[1]!));
            expect(index.blocksOf(pod, medium)).toEqual(want.sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
          }
        }
        const holds = (pod: string, medium: string, h: bigint) => model.get(`${medium}:${h}`)?.has(pod) ?? false;
        const matches = index.lookup(BigUint64Array.from(prompt), PODS);
        for (const m of matches) {
          let any = 0;
          while (any < prompt.length && (holds(m.pod, 'GPU', prompt[any]!) || holds(m.pod, 'CPU', prompt[any]!))) any++;
          let dev = 0;
          while (dev < prompt.length && holds(m.pod, 'GPU', prompt[dev]!)) dev++;
          expect({ pod: m.pod, blocks: m.blocks, deviceBlocks: m.deviceBlocks }).toEqual({ pod: m.pod, blocks: any, deviceBlocks: dev });
        }
      }),
      { numRuns: 300 },
    );
  });

  it('grows past its first capacity and widens pod bitsets past 32 pods', () => {
    const index = new KvBlockIndex(16);
    const hashes = Array.from({ length: 5000 }, (_, i) => BigInt(i) * 0x9e3779b97f4a7c15n % (1n << 64n));
    const pods = Array.from({ length: 70 }, (_, i) => `pod-${i}`);
    for (const p of pods) index.store(p, hashes.slice(0, 10));
    index.store('pod-69', hashes);
    const m = index.lookup(BigUint64Array.from(hashes), pods);
    expect(m[0]!.blocks).toBe(10);
    expect(m[69]!.blocks).toBe(5000);
    expect(index.stats()).toMatchObject({ pods: 70, keys: 5000, entries: 69 * 10 + 5000 });
  });

  it('a BlockStored repeated for a block the pod holds (vLLM full report mode) is undone by its one BlockRemoved', () => {
    const index = new KvBlockIndex();
    const H = 0x1234567890abcdefn;
    const stored: KvEvent = { type: 'BlockStored', blockHashes: [H], parentBlockHash: null, tokenIds: Array(16).fill(7), blockSize: 16, loraId: null, medium: 'GPU', loraName: null, groupIdx: 0 };
    const wire = (events: KvEvent[]) => decodeBatch(encodeBatch({ ts: 1, events, dataParallelRank: 0 })).events;
    index.apply('pod-a', wire([stored]));
    for (let i = 0; i < 3; i++) index.apply('pod-a', wire([stored])); // the prefix hit re-reported; no new physical block
    index.apply('pod-a', wire([{ type: 'BlockRemoved', blockHashes: [H], medium: 'GPU', groupIdx: 0 }]));
    expect(index.lookup(BigUint64Array.from([H]), ['pod-a'])).toEqual([{ pod: 'pod-a', blocks: 0, deviceBlocks: 0 }]);
    expect(index.blocksOf('pod-a')).toEqual([]);
    expect(index.blockCount('pod-a')).toBe(0);
  });

  it('a hybrid model\'s block stays while one of its KV-cache groups holds it, whatever the repeats', () => {
    const index = new KvBlockIndex();
    const H = [11n, 12n];
    index.store('a', H, 'GPU', 0);
    index.store('a', H, 'GPU', 0);
    index.store('a', H, 'GPU', 1);
    index.remove('a', H, 'GPU', 1); // the sliding-window group drops them; full attention keeps them
    expect(index.blocksOf('a')).toEqual(H);
    index.remove('a', H, 'GPU', 0);
    expect(index.blocksOf('a')).toEqual([]);
    // A group that never held a block does not remove it.
    index.store('a', H, 'GPU', 0);
    index.remove('a', H, 'GPU', 2);
    expect(index.blocksOf('a')).toEqual(H);
  });

  it('clearing a pod visits none of the other pods\' group records', () => {
    const index = new KvBlockIndex();
    const hashes = Array.from({ length: 500 }, (_, i) => BigInt(i + 1));
    for (const pod of ['a', 'b', 'c']) {
      index.store(pod, hashes, 'GPU', 0);
      index.store(pod, hashes, 'GPU', 1);
    }
    index.store('evil', [1n]);
    const walks = [vi.spyOn(Map.prototype, 'keys'), vi.spyOn(Map.prototype, 'entries'), vi.spyOn(Map.prototype, 'forEach'), vi.spyOn(Map.prototype, Symbol.iterator)];
    for (let i = 0; i < 5; i++) index.apply('evil', [{ type: 'AllBlocksCleared' }]);
    expect(walks.map((w) => w.mock.calls.length)).toEqual([0, 0, 0, 0]);
    vi.restoreAllMocks();
    expect(index.blocksOf('a')).toEqual(hashes);
    index.remove('a', hashes, 'GPU', 1);
    expect(index.blocksOf('a')).toEqual(hashes);
    index.clearPod('a');
    index.store('a', hashes.slice(0, 2), 'GPU', 1);
    index.remove('a', hashes.slice(0, 2), 'GPU', 1); // group 1's record went with the clear: no stale group 0 keeps it
    expect(index.blocksOf('a')).toEqual([]);
    expect(index.blocksOf('b')).toEqual(hashes);
  });

  it('a medium it does not know is indexed as one OTHER tier, counted, not a table per name', () => {
    const index = new KvBlockIndex();
    index.store('good', [1n, 2n, 3n]);
    const before = index.stats().bytes;
    for (let i = 0; i < 200; i++) index.store('evil', [BigInt(i + 10)], `m${i}`);
    index.store('cpu-pod', [1n, 2n], 'cpu'); // known names are kept apart, case aside
    expect(index.stats().unknownMediumBlocks).toBe(200);
    expect(index.unknownMediumNames.size).toBeLessThanOrEqual(8);
    expect(index.blocksOf('evil', 'OTHER')).toHaveLength(200);
    expect(index.blocksOf('cpu-pod', 'CPU')).toEqual([1n, 2n]);
    // Two tables past the GPU's (OTHER, CPU), whatever the names sent.
    expect(index.stats().bytes - before).toBeLessThan(3 * 64 * 1024);
    // An off-device tier still counts as held (not on the device).
    index.store('evil', [1n], 'another-unknown');
    expect(index.lookup(BigUint64Array.from([1n]), ['evil'])).toEqual([{ pod: 'evil', blocks: 1, deviceBlocks: 0 }]);
    index.remove('evil', [1n], 'yet-another');
    expect(index.lookup(BigUint64Array.from([1n]), ['evil'])).toEqual([{ pod: 'evil', blocks: 0, deviceBlocks: 0 }]);
  });
});
