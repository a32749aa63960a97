import { describe, expect, it } from 'vitest';
import { AbortOnce } from './abort-once.ts';

describe('AbortOnce', () => {
  it('runs each listener once, in order, and is aborted from then on', () => {
    const a = new AbortOnce();
    const calls: string[] = [];
    a.addEventListener('abort', () => calls.push('one'));
    a.addEventListener('abort', () => calls.push('two'));
    expect(a.aborted).toBe(false);
    a.abort();
    a.abort();
    expect(a.aborted).toBe(true);
    expect(calls).toEqual(['one', 'two']);
  });

  it('a removed listener is not called; one added after the abort is not either (check `aborted` first)', () => {
    const a = new AbortOnce();
    let removed = 0;
    let kept = 0;
    const r = () => removed++;
    a.addEventListener('abort', r);
    a.addEventListener('abort', () => kept++);
    a.removeEventListener('abort', r);
    a.abort();
    let late = 0;
    a.addEventListener('abort', () => late++);
    expect([removed, kept, late]).toEqual([0, 1, 0]);
  });

  it('a listener that removes itself while listeners run does not skip the next one', () => {
    const a = new AbortOnce();
    const calls: number[] = [];
    const first = () => {
      calls.push(1);
      a.removeEventListener('abort', first);
    };
    a.addEventListener('abort', first);
    a.addEventListener('abort', () => calls.push(2));
    a.abort();
    expect(calls).toEqual([1, 2]);
  });
});
