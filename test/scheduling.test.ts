/**
 * Whole decisions through createScheduler: admission (no ready endpoint, no
 * fresh metrics, saturation shedding), profiles, in-flight correction, prefix
 * affinity, and explanations whose scores match the pick.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import type { Endpoint } from '../src/endpoints/types.ts';
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { createScheduler, parseSchedulerConfig, type EndpointPicker, type Explanation } from '../src/scheduling/index.ts';
import { endpointSaturation, isSheddable, poolSaturation } from '../src/scheduling/saturation.ts';
import { DEFAULT_SATURATION } from '../src/scheduling/config.ts';
import type { Decision } from '../src/scheduling/scheduler.ts';
import { endpoint, NOW, pool, request } from '../src/scheduling/testing.ts';

let kernel: WebAssembly.Module;
beforeAll(async () => {
  kernel = await loadKernelModule();
});

const snap = (endpoints: Endpoint[], hasMetrics = true) => ({ pool: 'pool', endpoints, at: NOW, hasMetrics });
const make = (extra: Parameters<typeof createScheduler>[0] = {}): EndpointPicker => createScheduler({ kernel, now: () => NOW, random: () => 0.5, ...extra });
const routed = (d: Decision) => (d.kind === 'route' ? d.endpoint.id : d.kind);

describe('saturation', () => {
  it.each([
    { m: { waiting: 0, kvUsage: 0 }, s: 0 },
    { m: { waiting: 5, kvUsage: 0.1 }, s: 1 },
    { m: { waiting: 1, kvUsage: 0.4 }, s: 0.5 },
    { m: { waiting: 10, kvUsage: 0.9 }, s: 2 },
  ])('endpoint $m → $s', ({ m, s }) => {
    expect(endpointSaturation(endpoint(0, m), NOW, DEFAULT_SATURATION)).toBeCloseTo(s);
  });

  it('counts stale or missing metrics as 1 and averages the pool', () => {
    const stale = endpoint(1, {}, { scrapedAt: NOW - 201 });
    const missing = endpoint(2, {}, { metrics: undefined });
    expect(endpointSaturation(stale, NOW, DEFAULT_SATURATION)).toBe(1);
    expect(poolSaturation([endpoint(0), stale, missing, endpoint(3, { waiting: 5 })], NOW, DEFAULT_SATURATION)).toBe(0.75);
  });

  it.each([
    ['Sheddable', 0, true],
    ['Standard', -1, false],
    ['Critical', -5, false],
    ['Standard', 0, false],
  ] as const)('%s priority %d sheddable: %s', (criticality, priority, expected) => {
    expect(isSheddable({ criticality, priority })).toBe(expected);
  });
});

describe('admission', () => {
  const saturated = [endpoint(0, { waiting: 9 }), endpoint(1, { kvUsage: 0.95 })];

  it('sheds Sheddable requests at a saturated pool with Retry-After, serves Critical and Standard', () => {
    const s = make();
    const shed = s.decide(pool(), snap(saturated), request({ criticality: 'Sheddable', priority: -1, explain: true }));
    expect(shed).toMatchObject({ kind: 'shed', retryAfterSeconds: 1 });
    expect((shed.explain as Explanation).shed).toMatch(/saturated/);
    expect(routed(s.decide(pool(), snap(saturated), request({ criticality: 'Critical' })))).not.toBe('shed');
    expect(routed(s.decide(pool(), snap(saturated), request({ criticality: 'Standard' })))).not.toBe('shed');
  });

  it('serves Sheddable requests below the threshold, and honours a configured threshold', () => {
    const half = [endpoint(0, { waiting: 3 }), endpoint(1)];
    expect(make().decide(pool(), snap(half), request({ criticality: 'Sheddable' })).kind).toBe('route');
    const cfg = parseSchedulerConfig('saturationDetector: { threshold: 0.25, retryAfterSeconds: 3 }');
    if (!cfg.ok) throw new Error('config');
    expect(make({ config: cfg.config }).decide(pool(), snap(half), request({ criticality: 'Sheddable' }))).toMatchObject({ kind: 'shed', retryAfterSeconds: 3 });
  });

  it('is unavailable with no ready endpoint', () => {
    expect(make().decide(pool(), snap([endpoint(0, {}, { ready: false })]), request())).toMatchObject({ kind: 'unavailable' });
  });

  it('without fresh metrics: FailClose is unavailable, FailOpen routes by least in-flight', () => {
    const stale = [endpoint(0, {}, { scrapedAt: NOW - 5000 }), endpoint(1, {}, { scrapedAt: NOW - 5000 })];
    const s = make();
    expect(s.decide(pool(), snap(stale), request()).kind).toBe('unavailable');
    expect(s.decide(pool(), snap([endpoint(0)], false), request()).kind).toBe('unavailable');
    const open = pool({ failureMode: 'FailOpen' });
    s.dispatched(open, stale[0]!, request({ requestId: 'a' }));
    const d = s.decide(open, snap(stale), request({ explain: true }));
    expect(routed(d)).toBe(stale[1]!.id);
    expect(d.explain).toMatchObject({ failOpen: true });
    s.completed(open, stale[0]!, request({ requestId: 'a' }));
    s.dispatched(open, stale[1]!, request({ requestId: 'b' }));
    expect(routed(s.decide(open, snap(stale), request()))).toBe(stale[0]!.id);
  });
});

describe('profiles', () => {
  it('avoids the endpoint with a long queue and returns the rest as fallbacks', () => {
    const eps = [endpoint(0, { waiting: 40 }), endpoint(1, { waiting: 0 }), endpoint(2, { waiting: 2 })];
    const d = make().decide(pool(), snap(eps), request());
    expect(d).toMatchObject({ kind: 'route', endpoint: { id: eps[1]!.id } });
    expect(d.kind === 'route' && d.fallbacks.map((e) => e.id)).toEqual([eps[2]!.id, eps[0]!.id]);
  });

  it('corrects stale metrics with its own dispatches since the scrape (no hot-spot)', () => {
    const eps = [0, 1, 2, 3].map((i) => endpoint(i));
    const s = make({ random: Math.random });
    const counts = new Map<string, number>();
    for (let r = 0; r < 8; r++) {
      const req = request({ requestId: `r${r}` });
      const d = s.decide(pool(), snap(eps), req);
      if (d.kind !== 'route') throw new Error(d.kind);
      s.dispatched(pool(), d.endpoint, req);
      counts.set(d.endpoint.id, (counts.get(d.endpoint.id) ?? 0) + 1);
    }
    expect([...counts.values()]).toEqual([2, 2, 2, 2]);
  });

  it('sends a repeated long prompt back to the endpoint that served it', () => {
    const eps = [0, 1, 2, 3].map((i) => endpoint(i));
    const s = make({ random: Math.random });
    const prompt = 'You are a helpful assistant. '.repeat(200);
    const first = s.decide(pool(), snap(eps), request({ prompt, requestId: 'a' }));
    if (first.kind !== 'route') throw new Error(first.kind);
    s.dispatched(pool(), first.endpoint, request({ prompt, requestId: 'a' }));
    s.completed(pool(), first.endpoint, request({ prompt, requestId: 'a' }));
    for (let i = 0; i < 5; i++) expect(routed(s.decide(pool(), snap(eps), request({ prompt, requestId: `b${i}` })))).toBe(first.endpoint.id);
  });

  it('prefers the endpoint with the adapter loaded while another has room', () => {
    const eps = [endpoint(0, { activeAdapters: [] }), endpoint(1, { activeAdapters: ['spanish-bot'] }), endpoint(2, { activeAdapters: [] })];
    expect(routed(make().decide(pool(), snap(eps), request({ targetModel: 'spanish-bot' })))).toBe(eps[1]!.id);
  });

  it('uses the profile the pool names, falling back to the default for an unknown one', () => {
    const s = make();
    const eps = [endpoint(0, { waiting: 1 }), endpoint(1, {}, { scrapedAt: NOW - 3000 })];
    // gie-default has no staleness filter: the stale, empty-queue endpoint wins there.
    expect(routed(s.decide(pool({ profile: 'gie-default' }), snap(eps), request()))).toBe(eps[1]!.id);
    const d = s.decide(pool({ profile: 'nope' }), snap(eps), request({ explain: true }));
    expect(routed(d)).toBe(eps[0]!.id);
    expect(d.explain).toMatchObject({ profile: 'default', profileMissing: 'nope', filtered: [{ id: eps[1]!.id, by: 'fresh-metrics-filter' }] });
  });
});

describe('explanation', () => {
  it('is compact JSON whose scores add up to the totals and whose pick has the best total', () => {
    const eps = Array.from({ length: 20 }, (_, i) => endpoint(i, { waiting: i % 5, kvUsage: (i % 7) / 10, running: i }));
    const d = make({ random: Math.random }).decide(pool(), snap(eps), request({ explain: true }));
    if (d.kind !== 'route') throw new Error(d.kind);
    const e = JSON.parse(JSON.stringify(d.explain)) as Explanation;
    expect(e.picked).toBe(d.endpoint.id);
    expect(e.candidates![0]!.id).toBe(d.endpoint.id);
    expect(e.candidates).toHaveLength(5);
    for (const c of e.candidates!) {
      const sum = Object.entries(c.scores).reduce((acc, [name, s]) => acc + s * e.weights![name]!, 0);
      expect(sum).toBeCloseTo(c.total, 3);
      expect(c.total).toBeLessThanOrEqual(e.candidates![0]!.total);
      expect(c.ageMs).toBe(20);
    }
    expect(JSON.stringify(e).length).toBeLessThan(2048);
  });

  it('says why endpoints were filtered out and when a filter was bypassed', () => {
    const cfg = parseSchedulerConfig(`
plugins: [{ type: low-queue-filter, parameters: { threshold: 2 } }, { type: least-kv-cache-filter }, { type: queue-scorer }]
schedulingProfiles: [{ name: default, plugins: [{ pluginRef: low-queue-filter }, { pluginRef: queue-scorer }] }, { name: strict, plugins: [{ pluginRef: low-queue-filter }] }]`);
    if (!cfg.ok) throw new Error(JSON.stringify(cfg.problems));
    const s = make({ config: cfg.config });
    const d = s.decide(pool(), snap([endpoint(0, { waiting: 1 }), endpoint(1, { waiting: 3 })]), request({ explain: true }));
    expect(d.explain).toMatchObject({ filtered: [{ id: endpoint(1).id, by: 'low-queue-filter', reason: 'waiting 3 > 2' }] });
    const all = s.decide(pool({ profile: 'strict' }), snap([endpoint(0, { waiting: 5 })]), request({ explain: true }));
    expect(all.kind).toBe('route');
    expect(all.explain).toMatchObject({ bypassed: ['low-queue-filter'] });
    expect((all.explain as Explanation).filtered).toBeUndefined();
  });
});

it('the TypeScript twin decides exactly like the kernel', () => {
  const eps = Array.from({ length: 50 }, (_, i) => endpoint(i, { waiting: i % 4, kvUsage: (i % 3) / 4, activeAdapters: i % 5 === 0 ? ['a'] : [] }));
  const lehmer = () => {
    let seed = 1;
    return () => (seed = (seed * 16807) % 2147483647) / 2147483647;
  };
  const a = make({ random: lehmer() });
  const b = createScheduler({ now: () => NOW, random: lehmer() });
  expect(b.kernel.implementation).toBe('ts');
  for (let r = 0; r < 50; r++) {
    const req = request({ requestId: `r${r}`, targetModel: r % 2 ? 'a' : 'base', prompt: `prompt ${r % 3} `.repeat(50), explain: true });
    const da = a.decide(pool(), snap(eps), req);
    const db = b.decide(pool(), snap(eps), req);
    expect(routed(da)).toBe(routed(db));
    expect({ ...da.explain, kernel: 'x' }).toEqual({ ...db.explain, kernel: 'x' });
    if (da.kind === 'route') {
      a.dispatched(pool(), da.endpoint, req);
      b.dispatched(pool(), da.endpoint, req);
    }
  }
});
