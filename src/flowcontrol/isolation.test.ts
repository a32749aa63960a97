import { describe, expect, it } from 'vitest';
import { FlowIsolation } from './isolation.ts';

const READY = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7'];

/** Per tick, per flow: the prompt bytes of one request, and how long it stays in flight (ms; 0: ends in its tick). */
type Traffic = Record<string, { bytes: number; ms?: number }>;

/** A pool of 8 endpoints under a fake clock, with flow control's queue played by `queued`. */
function setup(headroom = 1) {
  let now = 1000;
  const queued = new Map<string, { requests: number; bytes: number }>();
  const iso = new FlowIsolation({ headroom, windowMs: 1000 }, () => now, (_pool, flow) => queued.get(flow) ?? { requests: 0, bytes: 0 });
  const open: { ends: number; endpoint: string; flow: string }[] = [];
  /** Where each flow's requests went, in the last `run`. */
  let went = new Map<string, Set<string>>();
  /** `ms` of traffic, every 10 ms: each flow's request arrives and is dispatched (to the first endpoint it may use, its own rotated), and ends after its time. */
  const run = (ms: number, traffic: Traffic) => {
    went = new Map();
    for (let t = 0; t < ms; t += 10) {
      now += 10;
      for (let i = open.length - 1; i >= 0; i--) {
        if (open[i]!.ends > now) continue;
        iso.completed('p', open[i]!.endpoint, open[i]!.flow);
        open.splice(i, 1);
      }
      iso.contended('p');
      for (const [flow, { bytes, ms: lasts = 0 }] of Object.entries(traffic)) {
        iso.arrived('p', flow, bytes);
        const allowed = iso.allowed('p', flow, READY);
        const usable = READY.filter((id) => !allowed || allowed(id));
        const endpoint = usable[(t / 10) % usable.length]!;
        iso.dispatched('p', endpoint, flow, bytes);
        if (!went.has(flow)) went.set(flow, new Set());
        went.get(flow)!.add(endpoint);
        if (lasts > 0) open.push({ ends: now + lasts, endpoint, flow });
        else iso.completed('p', endpoint, flow);
      }
    }
  };
  return { iso, queued, run, went: (flow: string) => [...(went.get(flow) ?? [])].sort(), tick: (ms: number) => (now += ms) };
}

/** A flood: 8 kB documents, each in flight for 2 s, with 400 more waiting in flow control's queue. */
const FLOOD = { bytes: 8000, ms: 2000 };
const BACKLOG = { requests: 400, bytes: 3_200_000 };

describe('FlowIsolation', () => {
  it('restricts nothing while the pool is not contended, or when one flow has it all', () => {
    const { iso, queued, run, tick } = setup();
    queued.set('batch', BACKLOG);
    run(2000, { batch: FLOOD });
    expect(iso.overShare('p', 'batch')).toBe(false);
    expect(iso.allowed('p', 'batch', READY)).toBeUndefined();
    queued.clear();
    tick(5000); // contention over
    iso.arrived('p', 'chat', 100);
    expect(iso.allowed('p', 'chat', READY)).toBeUndefined();
  });

  it('keeps a flooding flow off a reserve that serves the flows within their share', () => {
    const { iso, queued, run, went } = setup();
    run(1000, { batch: { bytes: 1000 }, chat: { bytes: 200, ms: 200 }, docs: { bytes: 100 } });
    // Flow control holds the batch flow's burst: it is over its share by bytes and by requests.
    queued.set('batch', BACKLOG);
    run(1000, { batch: FLOOD, chat: { bytes: 200, ms: 200 }, docs: { bytes: 100 } });
    expect(iso.overShare('p', 'batch')).toBe(true);
    expect(iso.overShare('p', 'chat')).toBe(false);
    expect(iso.overShare('p', 'docs')).toBe(false);
    const reserve = iso.reserved('p');
    // At least one endpoint, and the flooding flow keeps at least its fair share (1 of 3 flows: 3 of 8).
    expect(reserve.length).toBeGreaterThanOrEqual(1);
    expect(reserve.length).toBeLessThanOrEqual(5);
    const batch = iso.allowed('p', 'batch', READY)!;
    for (const id of READY) expect(batch(id)).toBe(!reserve.includes(id));
    // The others use the reserve, and endpoints the flood has nothing on — never one it has.
    run(500, { batch: FLOOD, chat: { bytes: 200, ms: 200 } });
    const flooded = went('batch');
    expect(flooded.some((id) => reserve.includes(id))).toBe(false);
    expect(went('chat').some((id) => flooded.includes(id))).toBe(false);
  });

  it('lets flows within their share use endpoints with no over-share work', () => {
    const { iso, queued, run } = setup();
    run(1000, { batch: { bytes: 1000 }, chat: { bytes: 200, ms: 200 } });
    queued.set('batch', BACKLOG);
    run(1000, { batch: FLOOD, chat: { bytes: 200, ms: 200 } });
    const reserve = iso.reserved('p');
    const chat = iso.allowed('p', 'chat', READY)!;
    // Every endpoint outside the reserve holds batch work here: the chat flow keeps to the reserve.
    for (const id of READY) expect(chat(id)).toBe(reserve.includes(id));
    // The batch flow's work ends (its backlog still waits): the endpoints it left are usable again.
    run(2100, { chat: { bytes: 200 } });
    const after = iso.allowed('p', 'chat', READY)!;
    expect(READY.every((id) => after(id))).toBe(true);
    expect(iso.overShare('p', 'batch')).toBe(true);
  });

  it('counts what a flow sent before it was found over as over-share work, and lets go of it as it ends', () => {
    const { iso, queued, run } = setup();
    // Before any contention the batch flow's long requests go everywhere.
    run(300, { batch: { bytes: 1000, ms: 3000 }, chat: { bytes: 200 } });
    queued.set('batch', BACKLOG);
    run(10, { batch: FLOOD, chat: { bytes: 200 } });
    expect(iso.overShare('p', 'batch')).toBe(true);
    // Every endpoint holds batch work now: the chat flow keeps to the reserve.
    const chat = iso.allowed('p', 'chat', READY)!;
    const reserve = iso.reserved('p');
    for (const id of READY) expect(chat(id)).toBe(reserve.includes(id));
    // All of it ends; the backlog still waits, so the batch flow is still over, but its endpoints are free.
    run(3100, { chat: { bytes: 200 } });
    expect(iso.overShare('p', 'batch')).toBe(true);
    const after = iso.allowed('p', 'chat', READY)!;
    expect(READY.every((id) => after(id))).toBe(true);
  });

  it('does not take a flow with long answers for a heavy one', () => {
    const { iso, queued, run } = setup();
    // The chat flow holds more requests in flight than the batch flow (long answers), with far fewer bytes.
    run(1000, { batch: { bytes: 1000, ms: 100 }, chat: { bytes: 200, ms: 1500 } });
    queued.set('batch', BACKLOG).set('chat', { requests: 1, bytes: 200 });
    run(1000, { batch: { bytes: 8000, ms: 100 }, chat: { bytes: 200, ms: 1500 } });
    expect(iso.overShare('p', 'chat')).toBe(false);
    expect(iso.overShare('p', 'batch')).toBe(true);
  });

  it('keeps a flow over its share while its backlog drains, and lets go once it is empty', () => {
    const { iso, queued, run } = setup();
    run(1000, { batch: { bytes: 1000 }, chat: { bytes: 200 } });
    queued.set('batch', BACKLOG);
    run(1000, { batch: FLOOD, chat: { bytes: 200 } });
    expect(iso.overShare('p', 'batch')).toBe(true);
    // The burst stopped arriving; what waits is still its.
    run(4000, { chat: { bytes: 200 } });
    expect(iso.overShare('p', 'batch')).toBe(true);
    queued.delete('batch');
    run(10, { chat: { bytes: 200 } });
    expect(iso.overShare('p', 'batch')).toBe(false);
    expect(iso.allowed('p', 'chat', READY)).toBeUndefined();
  });

  it('drops the reserve when contention ends, and endpoints that are no longer ready from it', () => {
    const { iso, queued, run, tick } = setup();
    run(1000, { batch: { bytes: 1000 }, chat: { bytes: 200 } });
    queued.set('batch', BACKLOG);
    run(1000, { batch: FLOOD, chat: { bytes: 200 } });
    const reserve = iso.reserved('p');
    expect(reserve.length).toBeGreaterThan(0);
    const ready = READY.filter((id) => id !== reserve[0]);
    iso.allowed('p', 'chat', ready);
    expect(iso.reserved('p')).not.toContain(reserve[0]);
    tick(1001);
    expect(iso.allowed('p', 'chat', READY)).toBeUndefined();
    expect(iso.reserved('p')).toEqual([]);
  });

  it('forgets flows gone quiet, contended or not (fairness ids are the clients\' to choose)', () => {
    const { iso, tick } = setup();
    for (let i = 0; i < 5000; i++) iso.arrived('p', `client-${i}`, 1000);
    expect(iso.flows('p')).toBeGreaterThan(1000);
    tick(60_000);
    for (let i = 0; i < 1024; i++) iso.arrived('p', 'steady', 1000);
    expect(iso.flows('p')).toBe(1);
  });

  it('reserves nothing when every flow is over its share, or one flow is left with its backlog', () => {
    const both = setup();
    both.run(1000, { a: { bytes: 1000 }, b: { bytes: 1000 } });
    both.queued.set('a', BACKLOG).set('b', BACKLOG);
    both.run(1000, { a: FLOOD, b: FLOOD });
    expect(both.iso.overShare('p', 'a') && both.iso.overShare('p', 'b')).toBe(true);
    expect(both.iso.allowed('p', 'a', READY)).toBeUndefined();
    expect(both.iso.reserved('p')).toEqual([]);

    const alone = setup();
    alone.run(1000, { batch: { bytes: 1000 }, chat: { bytes: 200 } });
    alone.queued.set('batch', BACKLOG);
    alone.run(1000, { batch: FLOOD, chat: { bytes: 200 } });
    expect(alone.iso.reserved('p').length).toBeGreaterThan(0);
    // The quiet flow stops and is forgotten; the batch flow drains alone.
    alone.run(30_000, { batch: { bytes: 1 } });
    expect(alone.iso.overShare('p', 'batch')).toBe(true);
    expect(alone.iso.allowed('p', 'batch', READY)).toBeUndefined();
    expect(alone.iso.reserved('p')).toEqual([]);
  });

  it('keeps no state for requests that ended, of flows it forgot', () => {
    const { iso, tick } = setup();
    iso.arrived('p', 'steady', 1000);
    iso.contended('p');
    for (let i = 0; i < 5000; i++) iso.dispatched('p', 'e0', `gone-${i}`, 1000);
    for (let i = 0; i < 5000; i++) iso.completed('p', 'e0', `gone-${i}`);
    tick(1);
    expect(iso.flows('p')).toBe(1);
  });

  it('sizes the reserve by the requests in flight within shares, and the headroom', () => {
    const sizes = [0, 1].map((headroom) => {
      const { iso, queued, run } = setup(headroom);
      run(1000, { batch: { bytes: 1000 }, a: { bytes: 300, ms: 300 }, b: { bytes: 300, ms: 300 } });
      queued.set('batch', BACKLOG);
      // Long enough for the reserve to settle (it shrinks by one endpoint a window).
      run(5000, { batch: FLOOD, a: { bytes: 300, ms: 300 }, b: { bytes: 300, ms: 300 } });
      return iso.reserved('p').length;
    });
    expect(sizes[1]).toBeGreaterThan(sizes[0]!);
  });
});
