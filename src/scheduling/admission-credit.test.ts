/**
 * Idle flow control spends the room the detector found one request at a time
 * (FlowAdmission#idle): a request on credit must pass only when the detector,
 * looking at that moment, would let it pass too. A second FlowAdmission over
 * the same picker and view, given no way to hear changes (so it looks every
 * time), is the reference; random runs of admissions, dispatches, retries,
 * completions, new snapshots, silent re-scrapes and the clock hold the
 * credit to it. Then: the credit is really used (the view is not looked at
 * while it lasts), and what ends it — a fresh snapshot, staleness, an
 * ejection (LocalScheduling), a new table.
 */
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_FLOW_CONTROL } from '../flowcontrol/config.ts';
import type { AdmitResult, Admission } from '../flowcontrol/controller.ts';
import type { Endpoint, EndpointSource, PoolSnapshot } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import { FlowAdmission, type AdmissionOptions } from './admission.ts';
import { DEFAULT_SATURATION } from './config.ts';
import { createScheduler } from './index.ts';
import { LocalScheduling } from './local.ts';
import type { SchedulingRequest } from './scheduler.ts';

const START = 1_000_000;
const POOL = { name: 'chat', selector: { app: 'vllm' }, targetPorts: [8000], appProtocol: 'http', failureMode: 'FailClose' } as unknown as Pool;
const request = (id: string): SchedulingRequest => ({ requestId: id, targetModel: 'm', requestedModel: 'm', prompt: 'hello', criticality: 'Standard', priority: 0, explain: false });

function endpoint(i: number, waiting: number, kvUsage: number, scrapedAt: number, ready = true): Endpoint {
  return {
    id: `e${i}`, address: `10.0.0.${i + 1}`, port: 8000, labels: {}, ready, engine: 'vllm', scrapedAt,
    metrics: { waiting, running: 2, kvUsage, activeAdapters: [], waitingAdapters: [], maxAdapters: 0, blockSize: 16, totalBlocks: 1000 },
  };
}

/** A view that tells its changes, as the gateway's endpoint sources do, and counts the looks at it. */
class View {
  endpoints: Endpoint[] = [];
  looks = 0;
  readonly #listeners = new Set<() => void>();
  snapshot = (p: Pool): PoolSnapshot => {
    this.looks++;
    return { pool: p.name, endpoints: this.endpoints, at: Date.now(), hasMetrics: true };
  };
  onChange = (l: () => void) => {
    this.#listeners.add(l);
    return () => this.#listeners.delete(l);
  };
  change(endpoints: Endpoint[]): void {
    this.endpoints = endpoints;
    for (const l of this.#listeners) l();
  }
}

const never = { aborted: false, addEventListener() {}, removeEventListener() {} };

function options(maxConcurrency: number): AdmissionOptions {
  return {
    flowControl: DEFAULT_FLOW_CONTROL,
    saturation: { ...DEFAULT_SATURATION, queueDepthThreshold: 5, kvCacheUtilThreshold: 0.9, metricsStalenessThreshold: 1000 },
    maxConcurrency,
    now: Date.now,
  };
}

beforeEach(() => {
  vi.useFakeTimers({ now: START, toFake: ['setTimeout', 'clearTimeout', 'Date'] });
});
afterEach(() => {
  vi.useRealTimers();
});

const metricsArb = fc.record({ waiting: fc.integer({ min: 0, max: 7 }), kv: fc.constantFrom(0.2, 0.95), ready: fc.boolean() });
const opArb = fc.oneof(
  { weight: 10, arbitrary: fc.record({ op: fc.constant('admit' as const), hold: fc.boolean(), to: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('start' as const), which: fc.nat() }) },
  { weight: 8, arbitrary: fc.record({ op: fc.constant('complete' as const), which: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('retry' as const), which: fc.nat(), to: fc.nat() }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('snapshot' as const), metrics: fc.array(metricsArb, { minLength: 1, maxLength: 4 }) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('rescrape' as const), which: fc.nat() }) },
  { weight: 2, arbitrary: fc.record({ op: fc.constant('time' as const), ms: fc.integer({ min: 0, max: 700 }) }) },
);

describe('FlowAdmission: room spent on credit', () => {
  it('lets a request through on credit only when the detector would (fast-check, against a view that is looked at every time)', () => {
    let onCredit = 0;
    fc.assert(
      fc.property(fc.array(metricsArb, { minLength: 1, maxLength: 4 }), fc.constantFrom(0, 3), fc.array(opArb, { minLength: 30, maxLength: 150 }), (initial, maxConcurrency, ops) => {
        vi.setSystemTime(START);
        const picker = createScheduler({ now: Date.now });
        const view = new View();
        view.endpoints = initial.map((m, i) => endpoint(i, m.waiting, m.kv, Date.now(), m.ready));
        const main = new FlowAdmission(view, picker, view.snapshot, options(maxConcurrency));
        const reference = new FlowAdmission({}, picker, view.snapshot, options(maxConcurrency));
        /** Let through by both, not yet at scheduling; then in flight on an endpoint. */
        const transit: Array<{ id: string; main: Admission; reference: Admission; to: number }> = [];
        const inFlight: Array<{ id: string; endpoint: Endpoint }> = [];
        let n = 0;
        const dispatch = (id: string, to: number) => {
          const ready = view.endpoints.filter((e) => e.ready);
          if (ready.length === 0) return;
          const e = ready[to % ready.length]!;
          // As LocalScheduling tells a dispatch: the picker, and flow control.
          for (const s of [picker, main, reference]) s.dispatched(POOL, e, request(id));
          inFlight.push({ id, endpoint: e });
        };
        for (const o of ops) {
          if (o.op === 'admit') {
            const id = `r${n++}`;
            const looks = view.looks;
            const gone = new AbortController();
            const m: AdmitResult | undefined = main.admitThen(POOL, request(id), 5, gone.signal, () => {});
            const looked = view.looks !== looks;
            const r: AdmitResult | undefined = reference.admitThen(POOL, request(id), 5, gone.signal, () => {});
            if (m && 'admitted' in m) {
              if (!looked) onCredit++;
              // The reference looked: it must agree.
              expect(r && 'admitted' in r, `request ${id} passed on credit while the detector says the pool has no room`).toBe(true);
              const both = { id, main: m.admitted, reference: (r as { admitted: Admission }).admitted, to: o.to };
              if (o.hold) transit.push(both);
              else {
                both.main.started();
                both.reference.started();
                dispatch(id, o.to);
              }
            } else {
              // Held or refused by the main one: take both out of the queues, as a client that leaves.
              gone.abort();
              if (r && 'admitted' in r) r.admitted.started(false);
            }
          } else if (o.op === 'start' && transit.length) {
            const t = transit.splice(o.which % transit.length, 1)[0]!;
            t.main.started();
            t.reference.started();
            dispatch(t.id, t.to);
          } else if (o.op === 'complete' && inFlight.length) {
            const f = inFlight.splice(o.which % inFlight.length, 1)[0]!;
            picker.completed(POOL, f.endpoint, request(f.id));
            main.wake(POOL);
            reference.wake(POOL);
          } else if (o.op === 'retry' && inFlight.length) {
            // The request's next attempt, on another endpoint: it replaces the first (one request, counted once).
            const f = inFlight[o.which % inFlight.length]!;
            const ready = view.endpoints.filter((e) => e.ready);
            if (ready.length) {
              f.endpoint = ready[o.to % ready.length]!;
              for (const s of [picker, main, reference]) s.dispatched(POOL, f.endpoint, request(f.id));
            }
          } else if (o.op === 'snapshot') {
            view.change(o.metrics.map((m, i) => endpoint(i, m.waiting, m.kv, Date.now(), m.ready)));
          } else if (o.op === 'rescrape' && view.endpoints.length) {
            // A scrape that found the same metrics: a new sample time, and no change told (as the agent does).
            const i = o.which % view.endpoints.length;
            view.endpoints = view.endpoints.map((e, j) => (j === i ? { ...e, scrapedAt: Date.now() } : e));
          } else if (o.op === 'time') {
            vi.advanceTimersByTime(o.ms);
          }
        }
        for (const t of transit) {
          t.main.started(false);
          t.reference.started(false);
        }
        main.close();
        reference.close();
      }),
      { numRuns: 300 },
    );
    // The runs did spend credit (else they held nothing to the reference).
    expect(onCredit).toBeGreaterThan(100);
  });

  it('uses the credit: while the view does not change, a request does not look at it', () => {
    const picker = createScheduler({ now: Date.now });
    const view = new View();
    view.endpoints = [endpoint(0, 0, 0.2, Date.now()), endpoint(1, 0, 0.2, Date.now())];
    const flow = new FlowAdmission(view, picker, view.snapshot, options(0));
    const pass = (id: string) => {
      const r = flow.admitThen(POOL, request(id), 5, never, () => {});
      expect(r).toMatchObject({ admitted: { waitedMs: 0 } });
      (r as { admitted: Admission }).admitted.started();
    };
    // Room for 5 on e0 (threshold 5, none waiting): the first look finds it, the next four pass on it.
    pass('a');
    const looks = view.looks;
    for (const id of ['b', 'c', 'd', 'e']) pass(id);
    expect(view.looks).toBe(looks);
    // Spent: the next looks again.
    pass('f');
    expect(view.looks).toBe(looks + 1);
    // A fresh snapshot ends the credit.
    view.change([endpoint(0, 0, 0.2, Date.now())]);
    pass('g');
    expect(view.looks).toBe(looks + 2);
    // So does staleness: the sample of 0 ms ago is stale after 1 000 ms, and its credit with it.
    pass('h');
    expect(view.looks).toBe(looks + 2);
    vi.advanceTimersByTime(1001);
    const r = flow.admitThen(POOL, request('i'), 5, never, () => {});
    expect(view.looks).toBe(looks + 3);
    // ...and the stale pool (no fresh endpoint) fails open, as the detector does.
    expect(r).toMatchObject({ admitted: {} });
    flow.close();
  });

  it('the sample the room was found in going stale ends the credit, with no change told', () => {
    const picker = createScheduler({ now: Date.now });
    const view = new View();
    // e0 has the room, sampled now; e1 is full, sampled 600 ms later (a scrape the agent does not tell: no change).
    view.endpoints = [endpoint(0, 0, 0.2, Date.now()), endpoint(1, 5, 0.2, Date.now())];
    const flow = new FlowAdmission(view, picker, view.snapshot, options(0));
    (flow.admitThen(POOL, request('a'), 5, never, () => {}) as { admitted: Admission }).admitted.started();
    vi.advanceTimersByTime(600);
    view.endpoints = [view.endpoints[0]!, endpoint(1, 5, 0.2, Date.now())];
    // 1 001 ms after e0's sample only e1 is fresh, and full: the next request waits, credit or not.
    vi.advanceTimersByTime(401);
    expect(flow.admitThen(POOL, request('b'), 5, never, () => {})).toBeUndefined();
    flow.close();
  });

  it('a new routing table ends the credit', () => {
    const picker = createScheduler({ now: Date.now });
    const view = new View();
    view.endpoints = [endpoint(0, 0, 0.2, Date.now())];
    const flow = new FlowAdmission(view, picker, view.snapshot, options(0));
    (flow.admitThen(POOL, request('a'), 5, never, () => {}) as { admitted: Admission }).admitted.started();
    const looks = view.looks;
    flow.tableApplied([POOL]);
    (flow.admitThen(POOL, request('b'), 5, never, () => {}) as { admitted: Admission }).admitted.started();
    expect(view.looks).toBe(looks + 1);
    flow.close();
  });

  it('an ejection ends the credit (LocalScheduling): the ejected endpoint’s room is not spent', () => {
    const view = new View();
    view.endpoints = [endpoint(0, 0, 0.2, Date.now()), endpoint(1, 5, 0.2, Date.now())];
    const source = { snapshot: view.snapshot, onChange: view.onChange, notReadyReason: () => undefined, close: () => {} } as unknown as EndpointSource;
    const picker = createScheduler({ now: Date.now });
    const scheduling = new LocalScheduling(source, picker, {
      staleAfterMs: 1000,
      now: Date.now,
      outliers: { consecutive5xx: 1 },
      flowControl: { flowControl: DEFAULT_FLOW_CONTROL, saturation: options(0).saturation, maxConcurrency: 0 },
    });
    const admit = (id: string) => scheduling.admit!(POOL, request(id), 5, never) as AdmitResult;
    // e0 has room for 5: the first request finds it and leaves credit for 4.
    const first = admit('a');
    expect(first).toMatchObject({ admitted: {} });
    (first as { admitted: Admission }).admitted.started();
    // e0 answers 503 and is ejected: e1, the only endpoint left, is at its threshold — the pool is saturated.
    scheduling.completed(POOL, view.endpoints[0]!, request('x'), { status: 503 });
    const next = scheduling.admit!(POOL, request('b'), 5, never);
    expect(next).toBeInstanceOf(Promise);
    scheduling.flow!.close();
  });

  it('no credit from a look during which an ejection ended (its endpoint back, with its requests in flight)', () => {
    const view = new View();
    view.endpoints = [0, 1, 2].map((i) => endpoint(i, 0, 0.2, Date.now()));
    const source = { snapshot: view.snapshot, onChange: view.onChange, notReadyReason: () => undefined, close: () => {} } as unknown as EndpointSource;
    const picker = createScheduler({ now: Date.now });
    const saturation = { ...options(2).saturation, queueDepthThreshold: 0 };
    const scheduling = new LocalScheduling(source, picker, {
      staleAfterMs: 1000,
      now: Date.now,
      outliers: { consecutive5xx: 1 },
      flowControl: { flowControl: DEFAULT_FLOW_CONTROL, saturation, maxConcurrency: 2 },
    });
    const reference = new FlowAdmission({}, picker, (p) => scheduling.outliers.apply(view.snapshot(p)), { ...options(2), saturation });
    // e0 holds 5 of this gateway's requests (3 endpoints × 2 are allowed); one answers 503: e0 is ejected for 1 s.
    for (let i = 0; i < 5; i++) scheduling.dispatched(POOL, view.endpoints[0]!, request(`old${i}`));
    scheduling.completed(POOL, view.endpoints[0]!, request('old0'), { status: 503 });
    expect(scheduling.outliers.ejected('e0')).toBe(true);
    // 1 ms before the ejection ends; the millisecond ticks just after the look took its snapshot.
    vi.advanceTimersByTime(999);
    const apply = scheduling.outliers.apply.bind(scheduling.outliers);
    let tick = true;
    scheduling.outliers.apply = (s) => {
      const out = apply(s);
      if (tick) {
        tick = false;
        vi.advanceTimersByTime(1);
      }
      return out;
    };
    // e0 is back, 4 in flight on it: 6 allowed, so after a and b are admitted, c and d must wait.
    for (const id of ['a', 'b', 'c', 'd']) {
      const main = scheduling.admit!(POOL, request(id), 5, never);
      const ref = reference.admitThen(POOL, request(id), 5, never, () => {});
      const passed = (r: unknown) => typeof r === 'object' && r !== null && !(r instanceof Promise) && 'admitted' in r;
      expect(passed(main) && !passed(ref), `${id} passed on credit while the detector says saturated`).toBe(false);
    }
    scheduling.flow!.close();
    reference.close();
  });
});
