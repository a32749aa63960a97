import { describe, expect, it } from 'vitest';
import { FEED_LIMITS } from '../feed.ts';
import { sampleDecisions, samplePoint, sampleState } from '../testing.ts';
import { FeedModel } from './model.ts';

describe('FeedModel', () => {
  it('takes the state whole, then appends points and decisions it does not have yet', () => {
    const m = new FeedModel();
    const state = sampleState();
    expect([...m.apply(state)].sort()).toEqual(['decisions', 'pools', 'routing', 'series']);
    const last = state.series.at(-1)!;
    m.apply({ type: 'point', point: last, totals: state.totals }); // a repeat of the state's last second
    expect(m.series).toHaveLength(state.series.length);
    m.apply({ type: 'point', point: { ...samplePoint(0), t: last.t + 1000 }, totals: { ...state.totals, requests: 1 } });
    expect(m.series).toHaveLength(state.series.length + 1);
    expect(m.totals.requests).toBe(1);
    expect(m.apply({ type: 'decisions', decisions: sampleDecisions() }).size).toBe(0);
    m.apply({ type: 'decisions', decisions: [{ ...sampleDecisions()[0]!, seq: 44 }] });
    expect(m.decisions.map((d) => d.seq)).toEqual([41, 42, 43, 44]);
    expect(m.decision(42)!.outcome).toBe('shed');
  });

  it('keeps its windows bounded', () => {
    const m = new FeedModel();
    m.apply(sampleState());
    const t0 = m.series.at(-1)!.t;
    for (let i = 1; i <= FEED_LIMITS.seriesSeconds + 5; i++) m.apply({ type: 'point', point: { ...samplePoint(i), t: t0 + i * 1000 }, totals: m.totals });
    expect(m.series).toHaveLength(FEED_LIMITS.seriesSeconds);
    m.apply({ type: 'decisions', decisions: Array.from({ length: 150 }, (_, i) => ({ ...sampleDecisions()[2]!, seq: 100 + i })) });
    expect(m.decisions).toHaveLength(FEED_LIMITS.decisions);
    expect(m.decisions.at(-1)!.seq).toBe(249);
  });
});
