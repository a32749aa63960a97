/** Deadlines: one timer for many head timeouts, each due at its own time. */
import { describe, expect, it } from 'vitest';
import { Deadlines } from './deadlines.ts';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('Deadlines', () => {
  it('fails each item at its own deadline, an earlier one added later included, and never one removed in time', async () => {
    const d = new Deadlines<{ deadline: number; timedOut(): void }>();
    const fired: string[] = [];
    const item = (name: string, inMs: number) => ({ deadline: Date.now() + inMs, timedOut: () => fired.push(name) });
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
    const d = new Deadlines<{ deadline: number; timedOut(): void }>();
    let fired = 0;
    d.add({ deadline: Date.now() + 10, timedOut: () => fired++ });
    d.clear();
    await sleep(40);
    expect(fired).toBe(0);
  });
});
