import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PairMap } from './pair-map.ts';

describe('PairMap', () => {
  it('gets, overwrites and deletes; absent is −1', () => {
    const m = new PairMap();
    expect(m.get(1, 2)).toBe(-1);
    m.set(1, 2, 7);
    m.set(0xffffffff, 0x80000000, 9);
    expect(m.get(1, 2)).toBe(7);
    expect(m.get(2, 1)).toBe(-1);
    expect(m.get(0xffffffff, 0x80000000)).toBe(9);
    expect(m.get(-1, -0x80000000)).toBe(9); // the same 32 bits, signed
    m.set(1, 2, 8);
    expect(m.size).toBe(2);
    expect(m.get(1, 2)).toBe(8);
    expect(m.delete(1, 2)).toBe(true);
    expect(m.delete(1, 2)).toBe(false);
    expect(m.get(1, 2)).toBe(-1);
    expect(m.size).toBe(1);
  });

  it('grows past its initial capacity and keeps load ≤ 1/2', () => {
    const m = new PairMap(4);
    for (let i = 0; i < 1000; i++) m.set(i, i >> 3, i);
    expect(m.size).toBe(1000);
    expect(m.capacity).toBeGreaterThanOrEqual(2000);
    for (let i = 0; i < 1000; i++) expect(m.get(i, i >> 3)).toBe(i);
  });

  it('behaves like a Map under random sets and deletes (backward-shift deletion keeps probe runs intact)', () => {
    // Few distinct keys in a small table: long probe runs, many wrap-arounds.
    const op = fc.record({ del: fc.boolean(), a: fc.integer({ min: 0, max: 40 }), b: fc.integer({ min: 0, max: 3 }), v: fc.nat(1000) });
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const m = new PairMap(2);
        const ref = new Map<string, number>();
        for (const { del, a, b, v } of ops) {
          if (del) expect(m.delete(a, b)).toBe(ref.delete(`${a},${b}`));
          else (m.set(a, b, v), ref.set(`${a},${b}`, v));
        }
        expect(m.size).toBe(ref.size);
        for (let a = 0; a <= 40; a++) for (let b = 0; b <= 3; b++) expect(m.get(a, b)).toBe(ref.get(`${a},${b}`) ?? -1);
      }),
      { numRuns: 300 },
    );
  });
});
