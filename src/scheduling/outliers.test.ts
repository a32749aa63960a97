import { describe, expect, it } from 'vitest';
import type { Endpoint, PoolSnapshot } from '../endpoints/types.ts';
import { OutlierDetector, type OutlierOutcome } from './outliers.ts';

const ep = (i: number): Endpoint => ({ id: `e${i}`, address: '10.0.0.1', port: 8000 + i, labels: {}, ready: true, engine: 'vllm' });
const pool = (n: number): PoolSnapshot => ({ pool: 'p', endpoints: Array.from({ length: n }, (_, i) => ep(i)), at: 0, hasMetrics: true });
const readyIds = (s: PoolSnapshot) => s.endpoints.filter((e) => e.ready).map((e) => e.id);

function detector() {
  let now = 1_000_000;
  const d = new OutlierDetector(() => now);
  return { d, advance: (ms: number) => (now += ms) };
}

const ok: OutlierOutcome = { kind: 'success' };
const s500: OutlierOutcome = { kind: 'status', status: 500 };

describe('OutlierDetector', () => {
  it('ejects at once on a refused connection, for 1 s, then doubling', () => {
    const { d, advance } = detector();
    d.observe(ep(1), { kind: 'connect-failure' });
    expect(readyIds(d.apply(pool(3)))).toEqual(['e0', 'e2']);
    advance(1001);
    expect(readyIds(d.apply(pool(3)))).toEqual(['e0', 'e1', 'e2']);
    d.observe(ep(1), { kind: 'connect-failure' });
    advance(1500);
    expect(d.ejected('e1')).toBe(true);
    advance(600);
    expect(d.ejected('e1')).toBe(false);
  });

  it('ejects after 5 consecutive 5xx, and a success in between resets the count', () => {
    const { d } = detector();
    for (let i = 0; i < 4; i++) d.observe(ep(1), s500);
    d.observe(ep(1), ok);
    for (let i = 0; i < 4; i++) d.observe(ep(1), s500);
    expect(d.ejected('e1')).toBe(false);
    d.observe(ep(1), s500);
    expect(d.ejected('e1')).toBe(true);
  });

  it('ejects an endpoint whose failures reach 20 % of at least 20 requests, though never 5 in a row', () => {
    const { d } = detector();
    for (let i = 0; i < 20; i++) d.observe(ep(2), i % 4 === 0 ? s500 : ok);
    expect(d.ejected('e2')).toBe(true);
    const { d: healthy } = detector();
    for (let i = 0; i < 40; i++) healthy.observe(ep(2), i % 10 === 0 ? s500 : ok);
    expect(healthy.ejected('e2')).toBe(false);
  });

  it('honours Retry-After on 429 and 503', () => {
    const { d, advance } = detector();
    d.observe(ep(0), { kind: 'status', status: 429, retryAfterSeconds: 3 });
    advance(2900);
    expect(d.ejected('e0')).toBe(true);
    advance(200);
    expect(d.ejected('e0')).toBe(false);
  });

  it('never ejects more than half the ready endpoints, and when all would be out, none is', () => {
    const { d } = detector();
    for (const i of [0, 1, 2]) d.observe(ep(i), { kind: 'connect-failure' });
    expect(readyIds(d.apply(pool(4)))).toHaveLength(2);
    const { d: all } = detector();
    for (const i of [0, 1]) all.observe(ep(i), { kind: 'connect-failure' });
    expect(readyIds(all.apply(pool(2)))).toHaveLength(2);
    const { d: one } = detector();
    one.observe(ep(0), { kind: 'connect-failure' });
    expect(readyIds(one.apply(pool(1)))).toEqual(['e0']);
  });
});

describe('OutlierDetector.apply on a snapshot it has seen', () => {
  it('answers as for a fresh one: an ejection made since, and one ended since, both show', () => {
    const { d, advance } = detector();
    // The agent hands out one endpoint list until its next scrape: the same array, asked about again and again.
    const snapshot = pool(4);
    d.observe(ep(3), s500); // a health record exists: apply looks
    expect(readyIds(d.apply(snapshot))).toEqual(['e0', 'e1', 'e2', 'e3']);
    d.observe(ep(1), { kind: 'connect-failure' });
    expect(readyIds(d.apply(snapshot))).toEqual(['e0', 'e2', 'e3']);
    expect(readyIds(d.apply(snapshot))).toEqual(['e0', 'e2', 'e3']);
    advance(500);
    d.observe(ep(2), { kind: 'connect-failure' });
    expect(readyIds(d.apply(snapshot))).toEqual(['e0', 'e3']);
    // Each ejection lasts 1 s: e1's ends first, e2's half a second later.
    advance(499);
    d.observe(ep(2), { kind: 'connect-failure' }); // e2 is out already: no new ejection
    expect(readyIds(d.apply(snapshot))).toEqual(['e0', 'e3']);
    advance(2);
    expect(readyIds(d.apply(snapshot))).toEqual(['e0', 'e1', 'e3']);
    advance(500);
    expect(readyIds(d.apply(snapshot))).toEqual(['e0', 'e1', 'e2', 'e3']);
    // The list given back is the snapshot's own while nothing is out.
    expect(d.apply(snapshot).endpoints).toBe(snapshot.endpoints);
  });
});
