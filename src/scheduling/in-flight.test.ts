/** InFlightTracker: this gateway's dispatches to an endpoint that its last scrape cannot show yet. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { InFlightTracker } from './in-flight.ts';

describe('InFlightTracker', () => {
  it('holds a bounded queue without scrapes, a long request at its front included', () => {
    const t = new InFlightTracker();
    t.dispatched('long', 0);
    for (let i = 0; i < 100_000; i++) {
      t.dispatched(`r${i}`, i);
      if (i >= 8) t.completed(`r${i - 8}`);
    }
    expect(t.total).toBe(9);
    expect(t.unreflected(undefined)).toBe(9);
    expect(t.held).toBeLessThan(200);
    t.completed('long');
    expect(t.unreflected(100_000)).toBe(0);
  });

  type Op = { op: 'dispatch'; key: number } | { op: 'complete'; key: number } | { op: 'scrape' } | { op: 'tick' };
  const op: fc.Arbitrary<Op> = fc.oneof(
    { arbitrary: fc.record({ op: fc.constant('dispatch' as const), key: fc.nat(11) }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('complete' as const), key: fc.nat(11) }), weight: 4 },
    { arbitrary: fc.record({ op: fc.constant('scrape' as const) }), weight: 1 },
    { arbitrary: fc.record({ op: fc.constant('tick' as const) }), weight: 2 },
  );

  it('counts the pending dispatches made after the last scrape, as a list of every dispatch would (property)', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 400 }), (ops) => {
        const t = new InFlightTracker();
        // The reference: each key's pending dispatch time; a dispatch of a pending key replaces it.
        const pending = new Map<number, number>();
        let now = 0;
        let scrapedAt: number | undefined;
        for (const o of ops) {
          if (o.op === 'dispatch') {
            t.dispatched(`k${o.key}`, now);
            pending.set(o.key, now);
          } else if (o.op === 'complete') {
            t.completed(`k${o.key}`);
            pending.delete(o.key);
          } else if (o.op === 'scrape') scrapedAt = now;
          else now++;
          const expected = scrapedAt === undefined ? pending.size : [...pending.values()].filter((at) => at > scrapedAt!).length;
          expect(t.unreflected(scrapedAt)).toBe(expected);
          expect(t.total).toBe(pending.size);
          expect(t.held).toBeLessThanOrEqual(4 * pending.size + 200);
        }
      }),
      { numRuns: 300 },
    );
  });
});
