/** Deadlines: one timer for many head timeouts, each due at its own time. */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Deadlines, type HasDeadline } from './deadlines.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Deadlines', () => {
  it('fails each item at its own deadline, an earlier one added later included, and never one removed in time', async () => {
    const d = new Deadlines<HasDeadline>();
    const fired: string[] = [];
    const item = (name: string, inMs: number) => ({ deadline: Date.now() + inMs, timedOut: () => void fired.push(name), deadlinePrev: null, deadlineNext: null });
    const late = item('late', 120);
    const removed = item('removed', 40);
    d.add(late);
    d.add(removed);
    d.add(item('early', 20));
    d.delete(removed);
    await sleep(70);
    expect(fired).toEqual(['early']);
    await sleep(100);
    expect(fired).toEqual(['early', 'late']);
    d.clear();
  });

  it('clear() stops the timer: nothing fires after it', async () => {
    const d = new Deadlines<HasDeadline>();
    let fired = 0;
    d.add({ deadline: Date.now() + 10, timedOut: () => void fired++, deadlinePrev: null, deadlineNext: null });
    d.clear();
    await sleep(40);
    expect(fired).toBe(0);
  });
});

describe('Deadlines against a Set (property)', () => {
  type Op = { op: 'add'; i: number; dt: number } | { op: 'delete'; i: number } | { op: 'tick'; ms: number };
  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ op: fc.constant('add' as const), i: fc.nat(7), dt: fc.integer({ min: 0, max: 50 }) }),
    fc.record({ op: fc.constant('delete' as const), i: fc.nat(7) }),
    fc.record({ op: fc.constant('tick' as const), ms: fc.integer({ min: 0, max: 30 }) }),
  );

  it('fails exactly the items a Set of the waiting ones would, each once, whatever the order of adds, deletes and time', () => {
    vi.useFakeTimers({ now: 1_000 });
    try {
      fc.assert(
        fc.property(fc.array(op, { maxLength: 60 }), (ops) => {
          const d = new Deadlines<HasDeadline & { i: number }>();
          const waiting = new Map<number, HasDeadline & { i: number }>();
          let fired: number[] = [];
          for (const o of ops) {
            if (o.op === 'add') {
              if (waiting.has(o.i)) continue;
              const item = { i: o.i, deadline: Date.now() + o.dt, timedOut: () => void fired.push(o.i), deadlinePrev: null, deadlineNext: null };
              waiting.set(o.i, item);
              d.add(item);
              d.add(item);
            } else if (o.op === 'delete') {
              const item = waiting.get(o.i);
              if (!item) continue;
              waiting.delete(o.i);
              d.delete(item);
              d.delete(item);
              expect([item.deadlinePrev, item.deadlineNext]).toEqual([null, null]);
            } else {
              vi.advanceTimersByTime(o.ms);
              const due = [...waiting.values()].filter((item) => item.deadline <= Date.now()).map((item) => item.i);
              for (const i of due) waiting.delete(i);
              expect(fired.sort()).toEqual(due.sort());
              fired = [];
            }
          }
          d.clear();
          vi.advanceTimersByTime(100);
          expect(fired).toEqual([]);
        }),
        { numRuns: 300 },
      );
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('Deadlines, when a timedOut() acts on the list', () => {
  const item = (fired: string[], name: string, inMs: number, then?: () => void): HasDeadline => ({
    deadline: Date.now() + inMs,
    deadlinePrev: null,
    deadlineNext: null,
    timedOut: () => {
      fired.push(name);
      then?.();
    },
  });
  const withFakeTimers = (test: () => void) => () => {
    vi.useFakeTimers({ now: 1_000 });
    try {
      test();
    } finally {
      vi.useRealTimers();
    }
  };

  it('one that deletes another due item: that one does not fire', withFakeTimers(() => {
    const d = new Deadlines<HasDeadline>();
    const fired: string[] = [];
    const b = item(fired, 'b', 10);
    d.add(item(fired, 'a', 10, () => d.delete(b)));
    d.add(b);
    vi.advanceTimersByTime(20);
    expect(fired).toEqual(['a']);
  }));

  it('one that clears the list: nothing fires after it', withFakeTimers(() => {
    const d = new Deadlines<HasDeadline>();
    const fired: string[] = [];
    d.add(item(fired, 'a', 10, () => d.clear()));
    d.add(item(fired, 'b', 10));
    vi.advanceTimersByTime(50);
    expect(fired).toEqual(['a']);
  }));

  it('one that adds another due item again: it fires once', withFakeTimers(() => {
    const d = new Deadlines<HasDeadline>();
    const fired: string[] = [];
    const b = item(fired, 'b', 10);
    d.add(item(fired, 'a', 10, () => d.add(b)));
    d.add(b);
    vi.advanceTimersByTime(50);
    expect(fired).toEqual(['a', 'b']);
  }));

  it('one that throws: the items due with it fire on the next turn, and later ones in time', withFakeTimers(() => {
    const d = new Deadlines<HasDeadline>();
    const fired: string[] = [];
    d.add(item(fired, 'a', 10, () => {
      throw new Error('boom');
    }));
    d.add(item(fired, 'b', 10));
    d.add(item(fired, 'c', 30));
    expect(() => vi.advanceTimersByTime(10)).toThrow('boom');
    vi.advanceTimersByTime(1);
    expect(fired).toEqual(['a', 'b']);
    vi.advanceTimersByTime(30);
    expect(fired).toEqual(['a', 'b', 'c']);
  }));
});
