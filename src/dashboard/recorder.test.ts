import { describe, expect, it } from 'vitest';
import type { FeedUpdate, PoolView } from './feed.ts';
import { DashboardRecorder } from './recorder.ts';

const T = 1_800_000_000_000;

function recorder() {
  let now = T;
  let waiting = 0;
  const pools = (): PoolView[] => [
    { name: 'p', pods: [{ id: 'a:1', ready: true, draining: false, waiting, running: 0, kvUsage: 0, activeAdapters: [], waitingAdapters: [], metricAgeMs: 5 }] },
  ];
  const r = new DashboardRecorder({ pools, routing: () => ({ version: 7, objects: [] }), now: () => now, tickMs: 60_000, explanationsPerSecond: 2 });
  return { r, advance: (ms: number) => (now += ms), setWaiting: (n: number) => (waiting = n) };
}

describe('DashboardRecorder', () => {
  it('gives the whole window as state, then ticks pools, closed seconds and new decisions to subscribers', () => {
    const { r, advance, setWaiting } = recorder();
    r.decision({ at: T, model: 'm', pool: 'p', outcome: 'route', endpoint: 'a:1' });
    r.record({ status: 200, durationMs: 50, ttftMs: 5 });
    const events: FeedUpdate[] = [];
    const stop = r.subscribe((e) => events.push(e));
    expect(r.watching).toBe(true);
    const state = r.state();
    expect(state.decisions.map((d) => d.seq)).toEqual([1]);
    expect(state.routing.version).toBe(7);

    advance(1200);
    setWaiting(4);
    r.decision({ at: T + 1100, model: 'm', pool: 'p', outcome: 'shed', reason: 'saturated' });
    r.tick();
    expect(events.map((e) => e.type)).toEqual(['point', 'decisions', 'pools']);
    const [point, decisions, pools] = events;
    expect(point!.type === 'point' && point.point.requests).toBe(1);
    expect(decisions!.type === 'decisions' && decisions.decisions.map((d) => d.seq)).toEqual([2]);
    expect(pools!.type === 'pools' && pools.pools[0]!.pods[0]!.waiting).toBe(4);

    r.routingChanged();
    expect(events.at(-1)!.type).toBe('routing');
    stop();
    expect(r.watching).toBe(false);
  });

  it('asks for explanations only while a page watches, and at most explanationsPerSecond', () => {
    const { r, advance } = recorder();
    expect(r.wantsExplanation()).toBe(false);
    const stop = r.subscribe(() => {});
    expect([r.wantsExplanation(), r.wantsExplanation(), r.wantsExplanation()]).toEqual([true, true, false]);
    advance(1000);
    expect(r.wantsExplanation()).toBe(true);
    stop();
  });

  it('keeps the last 100 decisions with increasing seq', () => {
    const { r } = recorder();
    for (let i = 0; i < 150; i++) r.decision({ at: T + i, model: 'm', pool: 'p', outcome: 'route' });
    const seqs = r.state().decisions.map((d) => d.seq);
    expect(seqs).toHaveLength(100);
    expect([seqs[0], seqs.at(-1)]).toEqual([51, 150]);
  });
});
