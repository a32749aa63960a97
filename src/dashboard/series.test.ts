import { describe, expect, it } from 'vitest';
import { LatencyHistogram, TrafficSeries } from './series.ts';

const T = 1_800_000_000_000;

describe('LatencyHistogram', () => {
  it('gives p50/p90/p99 within its 4% bucket width of the exact ones, never below them', () => {
    const h = new LatencyHistogram();
    const values = Array.from({ length: 1000 }, (_, i) => 1 + i * 3.7); // 1 … 3697 ms
    for (const x of values.slice().reverse()) h.add(x);
    const exact = (q: number) => values[Math.ceil(q * values.length) - 1]!;
    const got = h.percentiles()!;
    for (const [q, key] of [[0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99']] as const) {
      expect(got[key]).toBeGreaterThanOrEqual(exact(q) - 0.05);
      expect(got[key]).toBeLessThanOrEqual(exact(q) * 1.04 + 0.1);
    }
  });

  it('is null when empty, ignores NaN and negatives, and puts sub-0.1 ms in the first bucket', () => {
    const h = new LatencyHistogram();
    expect(h.percentiles()).toBeNull();
    h.add(Number.NaN);
    h.add(-1);
    expect(h.count).toBe(0);
    h.add(0);
    expect(h.percentiles()).toEqual({ p50: 0.1, p90: 0.1, p99: 0.1 });
  });
});

describe('TrafficSeries', () => {
  it('closes a point per second with its counts and percentiles; shed answers are counted but not timed', () => {
    const s = new TrafficSeries(T);
    s.record({ status: 200, durationMs: 100, ttftMs: 10 }, T + 10);
    s.record({ status: 200, durationMs: 100, ttftMs: 10, queued: true }, T + 20);
    s.record({ status: 503, durationMs: 100 }, T + 30);
    s.record({ status: 0, durationMs: 100 }, T + 40);
    s.record({ status: 429, durationMs: 0.2, shed: true }, T + 50);
    expect(s.points()).toEqual([]);
    s.roll(T + 1000);
    const [p] = s.takeClosed();
    expect(p).toMatchObject({ t: T, requests: 5, errors: 2, shed: 1, queued: 1 });
    expect(p!.latencyMs!.p50).toBeGreaterThanOrEqual(100);
    expect(p!.latencyMs!.p50).toBeLessThan(104.1);
    expect(p!.ttftMs!.p99).toBeLessThan(10.5);
    expect(s.totals()).toEqual({ requests: 5, errors: 2, shed: 1, queued: 1 });
    expect(s.takeClosed()).toEqual([]);
  });

  it('fills seconds without traffic with zero points and keeps only its window', () => {
    const s = new TrafficSeries(T, 10);
    s.record({ status: 200, durationMs: 5 }, T);
    s.record({ status: 200, durationMs: 5 }, T + 3500); // closes T, T+1 s, T+2 s
    expect(s.takeClosed().map((p) => [p.t - T, p.requests])).toEqual([[0, 1], [1000, 0], [2000, 0]]);
    s.roll(T + 3_600_000); // an hour idle: only the window's worth of points
    const points = s.points();
    expect(points).toHaveLength(10);
    expect(points.at(-1)!.t).toBe(T + 3_599_000);
    expect(points[0]!.latencyMs).toBeNull();
    expect(s.totals().requests).toBe(2);
  });
});
