import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PrefixIndex } from './prefix-index.ts';

/**
 * Chained block keys for a prompt written as a string of block letters:
 * block j's key stands for the whole prefix [0, j], like the kernel's
 * chained hashes. Keys are (lo, hi) pairs; hi has the top bit set half the
 * time so values ≥ 2^31 are exercised.
 */
const ids = new Map<string, number>();
function blocks(prompt: string): Uint32Array {
  const out = new Uint32Array(prompt.length * 2);
  for (let j = 0; j < prompt.length; j++) {
    const prefix = prompt.slice(0, j + 1);
    let id = ids.get(prefix);
    if (id === undefined) ids.set(prefix, (id = ids.size + 1));
    out[2 * j] = Math.imul(id, 0x9e3779b1) >>> 0;
    out[2 * j + 1] = (id * 7919) >>> 0 | (id & 1 ? 0x80000000 : 0);
  }
  return out;
}

function matches(index: PrefixIndex, prompt: string, slots: number): number[] {
  const b = blocks(prompt);
  index.lookup(b, prompt.length);
  const out = Array.from({ length: slots }, (_, s) => index.matchedFor(s));
  index.reset();
  return out;
}

const send = (index: PrefixIndex, slot: number, prompt: string, capacity = 1000) => index.record(slot, blocks(prompt), prompt.length, capacity);

describe('PrefixIndex', () => {
  it.each([
    { name: 'nothing recorded', sent: [], prompt: 'abc', matched: [0, 0, 0] },
    { name: 'same prompt', sent: [[1, 'abc']], prompt: 'abc', matched: [0, 3, 0] },
    { name: 'shared first block', sent: [[2, 'ax']], prompt: 'abcd', matched: [0, 0, 1] },
    { name: 'longest prefix per endpoint', sent: [[0, 'a'], [1, 'abc'], [2, 'ab']], prompt: 'abcd', matched: [1, 3, 2] },
    { name: 'a held prompt longer than the asked one', sent: [[0, 'abcdef']], prompt: 'abc', matched: [3, 0, 0] },
    { name: 'many holders of a shared prefix, few of the rest', sent: [[0, 'sa'], [1, 'sb'], [2, 'sc']], prompt: 'sbz', matched: [1, 2, 1] },
  ] as Array<{ name: string; sent: Array<[number, string]>; prompt: string; matched: number[] }>)('$name', ({ sent, prompt, matched }) => {
    const index = new PrefixIndex();
    for (const [slot, p] of sent) send(index, slot, p);
    expect(matches(index, prompt, 3)).toEqual(matched);
  });

  it('evicts the least recently sent blocks of that endpoint only, suffixes first', () => {
    const index = new PrefixIndex();
    send(index, 0, 'abc', 4);
    send(index, 1, 'xyz', 4);
    send(index, 0, 'x', 4); // slot 0 holds a, ab, abc, x
    expect(index.size(0)).toBe(4);
    send(index, 0, 'q', 4); // abc goes first: it was recorded before ab and a
    expect(matches(index, 'abc', 2)).toEqual([2, 0]);
    expect(matches(index, 'xyz', 2)).toEqual([1, 3]);
    send(index, 0, 'a', 4); // refresh a: ab is now the oldest
    send(index, 0, 'r', 4);
    expect(matches(index, 'abc', 2)).toEqual([1, 0]);
    expect(index.size(0)).toBe(4);
  });

  it('shrinks to a smaller capacity on the next record, and frees keys no one holds', () => {
    const index = new PrefixIndex();
    send(index, 0, 'abcdefgh', 100);
    send(index, 1, 'abcd', 100);
    expect(index.totals).toEqual({ keys: 8, entries: 12 });
    send(index, 0, 'z', 3);
    expect(index.size(0)).toBe(3);
    expect(matches(index, 'abcdefgh', 2)).toEqual([2, 4]);
    expect(index.totals).toEqual({ keys: 5, entries: 7 });
  });

  it('reset clears the matches of the last lookup', () => {
    const index = new PrefixIndex();
    send(index, 5, 'ab');
    index.lookup(blocks('ab'), 2);
    expect(index.matchedFor(5)).toBe(2);
    index.reset();
    expect(index.matchedFor(5)).toBe(0);
    expect(index.matchedFor(1000)).toBe(0);
  });

  it('agrees with a Map-based LRU per endpoint and a naive longest-prefix scan', () => {
    // Prompts over a 3-letter alphabet share prefixes often; capacities are small, so eviction is constant.
    const prompt = fc.string({ unit: fc.constantFrom('a', 'b', 'c'), minLength: 0, maxLength: 12 });
    const step = fc.record({ slot: fc.integer({ min: 0, max: 5 }), prompt, lookup: fc.boolean() });
    fc.assert(
      fc.property(fc.array(step, { maxLength: 120 }), fc.integer({ min: 1, max: 30 }), (steps, capacity) => {
        const index = new PrefixIndex();
        const lru = Array.from({ length: 6 }, () => new Map<string, true>());
        for (const { slot, prompt: p, lookup } of steps) {
          if (lookup) {
            const expected = lru.map((held) => {
              let j = 0;
              while (j < p.length && held.has(p.slice(0, j + 1))) j++;
              return j;
            });
            expect(matches(index, p, 6)).toEqual(expected);
            continue;
          }
          send(index, slot, p, capacity);
          const held = lru[slot]!;
          for (let j = p.length - 1; j >= 0; j--) {
            const key = p.slice(0, j + 1);
            held.delete(key);
            held.set(key, true);
          }
          while (held.size > capacity) held.delete(held.keys().next().value!);
          expect(index.size(slot)).toBe(held.size);
        }
        const entries = lru.reduce((n, m) => n + m.size, 0);
        const keys = new Set(lru.flatMap((m) => [...m.keys()])).size;
        expect(index.totals).toEqual({ keys, entries });
      }),
      { numRuns: 300 },
    );
  });
});
