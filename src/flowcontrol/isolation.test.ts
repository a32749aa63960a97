import { describe, expect, it } from 'vitest';
import { FlowIsolation } from './isolation.ts';

const READY = ['e0', 'e1', 'e2', 'e3', 'e4', 'e5', 'e6', 'e7'];

/** A pool of 8 endpoints under a fake clock, with flow control's queue played by `queued`. */
function setup(headroom = 1) {
  let now = 1000;
  const queued = new Map<string, number>();
  const iso = new FlowIsolation({ headroom, windowMs: 2000 }, () => now, (_pool, flow) => queued.get(flow) ?? 0);
  /** `ms` of traffic, every 10 ms: each flow's bytes arrive and are dispatched (to whichever endpoint it may use), then end. */
  const run = (ms: number, perTick: Record<string, number>) => {
    for (let t = 0; t < ms; t += 10) {
      now += 10;
      iso.contended('p');
      for (const [flow, bytes] of Object.entries(perTick)) {
        iso.arrived('p', flow, bytes);
        const allowed = iso.allowed('p', flow, READY);
        const endpoint = READY.find((id) => !allowed || allowed(id))!;
        const over = iso.dispatched('p', endpoint, flow, bytes);
        if (over) iso.completedOver('p', endpoint);
      }
    }
  };
  return { iso, queued, run, tick: (ms: number) => (now += ms) };
}

describe('FlowIsolation', () => {
  it('restricts nothing while the pool is not contended, or when one flow has it all', () => {
    const { iso, run, tick } = setup();
    run(2000, { batch: 5000 });
    expect(iso.overShare('p', 'batch')).toBe(false);
    expect(iso.allowed('p', 'batch', READY)).toBeUndefined();
    tick(5000); // contention over
    iso.arrived('p', 'chat', 100);
    expect(iso.allowed('p', 'chat', READY)).toBeUndefined();
  });

  it('keeps a flooding flow off a reserve that serves the flows within their share', () => {
    const { iso, queued, run } = setup();
    run(2000, { batch: 1000, chat: 200, docs: 100 });
    // Flow control holds the batch flow's burst: its demand is over what the pool serves.
    queued.set('batch', 400_000);
    run(1000, { batch: 8000, chat: 200, docs: 100 });
    expect(iso.overShare('p', 'batch')).toBe(true);
    expect(iso.overShare('p', 'chat')).toBe(false);
    expect(iso.overShare('p', 'docs')).toBe(false);
    const reserve = iso.reserved('p');
    // At least one endpoint, and the flooding flow keeps at least its fair share (1 of 3 flows: 3 of 8).
    expect(reserve.length).toBeGreaterThanOrEqual(1);
    expect(reserve.length).toBeLessThanOrEqual(5);
    const chat = iso.allowed('p', 'chat', READY)!;
    const batch = iso.allowed('p', 'batch', READY)!;
    for (const id of READY) expect(chat(id)).toBe(reserve.includes(id));
    for (const id of READY) expect(batch(id)).toBe(!reserve.includes(id));
  });

  it('keeps a flow over its share while its backlog drains, and lets go once it is empty', () => {
    const { iso, queued, run } = setup();
    run(1000, { batch: 1000, chat: 200 });
    queued.set('batch', 400_000);
    run(1000, { batch: 8000, chat: 200 });
    expect(iso.overShare('p', 'batch')).toBe(true);
    // The burst stopped arriving; what waits is still its.
    run(4000, { chat: 200 });
    expect(iso.overShare('p', 'batch')).toBe(true);
    expect(iso.reserved('p').length).toBeGreaterThan(0);
    queued.delete('batch');
    run(10, { chat: 200 });
    expect(iso.overShare('p', 'batch')).toBe(false);
    expect(iso.allowed('p', 'chat', READY)).toBeUndefined();
  });

  it('drops the reserve when contention ends, and endpoints that are no longer ready from it', () => {
    const { iso, queued, run, tick } = setup();
    run(1000, { batch: 1000, chat: 200 });
    queued.set('batch', 400_000);
    run(1000, { batch: 8000, chat: 200 });
    const reserve = iso.reserved('p');
    expect(reserve.length).toBeGreaterThan(0);
    const ready = READY.filter((id) => id !== reserve[0]);
    const chat = iso.allowed('p', 'chat', ready)!;
    expect(iso.reserved('p')).not.toContain(reserve[0]);
    expect(chat(reserve[0]!)).toBe(false);
    tick(2001);
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
    both.run(1000, { a: 1000, b: 1000 });
    both.queued.set('a', 400_000).set('b', 400_000);
    both.run(1000, { a: 8000, b: 8000 });
    expect(both.iso.overShare('p', 'a') && both.iso.overShare('p', 'b')).toBe(true);
    expect(both.iso.allowed('p', 'a', READY)).toBeUndefined();
    expect(both.iso.reserved('p')).toEqual([]);

    const alone = setup();
    alone.run(1000, { batch: 1000, chat: 200 });
    alone.queued.set('batch', 400_000);
    alone.run(1000, { batch: 8000, chat: 200 });
    expect(alone.iso.reserved('p').length).toBeGreaterThan(0);
    // The quiet flow stops and is forgotten; the batch flow drains alone.
    alone.run(30_000, { batch: 1 });
    expect(alone.iso.overShare('p', 'batch')).toBe(true);
    expect(alone.iso.allowed('p', 'batch', READY)).toBeUndefined();
    expect(alone.iso.reserved('p')).toEqual([]);
  });

  it('keeps no state for a flow dispatched after it was forgotten', () => {
    const { iso, tick } = setup();
    iso.arrived('p', 'steady', 1000);
    iso.contended('p');
    for (let i = 0; i < 5000; i++) iso.dispatched('p', 'e0', `gone-${i}`, 1000);
    tick(1);
    expect(iso.flows('p')).toBe(1);
  });

  it('sizes the reserve by the demand within shares and the headroom', () => {
    const sizes = [0, 1].map((headroom) => {
      const { iso, queued, run } = setup(headroom);
      run(1000, { batch: 1000, a: 300, b: 300 });
      queued.set('batch', 400_000);
      run(1000, { batch: 8000, a: 300, b: 300 });
      return iso.reserved('p').length;
    });
    expect(sizes[1]).toBeGreaterThan(sizes[0]!);
  });
});
