import { describe, expect, it } from 'vitest';
import { RetryBudget, retryAfterSeconds } from './retry.ts';

describe('RetryBudget', () => {
  it('allows at least minRetryConcurrency retries in flight, then a share of the requests in flight', () => {
    const b = new RetryBudget({ retryStatuses: [503], budgetPercent: 20, minRetryConcurrency: 2 });
    const load = b.begin('p');
    expect([b.tryRetry(load), b.tryRetry(load), b.tryRetry(load)]).toEqual([true, true, false]);
    b.retried(load);
    expect(b.tryRetry(load)).toBe(true);
    for (let i = 0; i < 19; i++) b.begin('p'); // 20 in flight: 20 % is 4
    expect([b.tryRetry(load), b.tryRetry(load), b.tryRetry(load)]).toEqual([true, true, false]);
    expect(b.begin('other').retrying).toBe(0);
  });

  it('retries the statuses it is given, nothing else', () => {
    const b = new RetryBudget({ retryStatuses: [429, 503], budgetPercent: 20, minRetryConcurrency: 3 });
    expect([429, 503, 500, 400, 200].map((s) => b.retriable(s))).toEqual([true, true, false, false, false]);
  });
});

describe('retryAfterSeconds', () => {
  it('reads delta-seconds and HTTP dates, and nothing else', () => {
    const now = Date.parse('2026-12-06T10:00:00Z');
    expect(retryAfterSeconds('7', now)).toBe(7);
    expect(retryAfterSeconds('Sun, 06 Dec 2026 10:00:30 GMT', now)).toBe(30);
    expect(retryAfterSeconds('Sun, 06 Dec 2026 09:00:00 GMT', now)).toBe(0);
    expect([retryAfterSeconds(null, now), retryAfterSeconds('soon', now), retryAfterSeconds('-1', now)]).toEqual([undefined, undefined, undefined]);
  });
});
