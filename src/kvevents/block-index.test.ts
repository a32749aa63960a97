/**
 * The typed-array index against a plain model (Map of hash → Set of pods),
 * under random stores, removals (deletion shifts keys within probe runs),
 * pod clears and lookups — small hash ranges force collisions and sharing.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { KvBlockIndex } from './block-index.ts';

const PODS = ['a', 'b', 'c', 'd', 'e'];
// Hashes that collide on their low half and straddle 2^63, to stress probing.
const hash = fc.integer({ min: 0, max: 40 }).map((n) => (BigInt(n % 7) << 61n) | BigInt(n % 5));
const op = fc.oneof(
  fc.record({ kind: fc.constant('store' as const), pod: fc.constantFrom(...PODS), hashes: fc.array(hash, { maxLength: 6 }), cpu: fc.boolean() }),
  fc.record({ kind: fc.constant('remove' as const), pod: fc.constantFrom(...PODS), hashes: fc.array(hash, { maxLength: 6 }), cpu: fc.boolean() }),
  fc.record({ kind: fc.constant('clear' as const), pod: fc.constantFrom(...PODS) }),
);

describe('KvBlockIndex', () => {
  it('agrees with a plain model under any sequence of stores, removals and clears', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 120 }), fc.array(hash, { maxLength: 12 }), (ops, prompt) => {
        const index = new KvBlockIndex(4);
        const model = new Map<string, Map<string, number>>(); // medium:hash → pod → copies
        for (const o of ops) {
          if (o.kind === 'clear') {
            index.clearPod(o.pod);
            for (const holders of model.values()) holders.delete(o.pod);
            continue;
          }
          const medium = o.cpu ? 'CPU' : 'GPU';
          if (o.kind === 'store') index.store(o.pod, o.hashes, medium);
          else index.remove(o.pod, o.hashes, medium);
          for (const h of o.hashes) {
            const k = `${medium}:${h}`;
            const holders = model.get(k) ?? new Map<string, number>();
            model.set(k, holders);
            const n = holders.get(o.pod) ?? 0;
            if (o.kind === 'store') holders.set(o.pod, n + 1);
            else if (n > 1) holders.set(o.pod, n - 1);
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
});
