import fc from 'fast-check';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { DEFAULT_BAND, DEFAULT_FLOW_CONTROL, type FlowControlConfig } from './config.ts';
import { FlowController, type AdmitResult, type PoolState } from './controller.ts';

/** A pool with `capacity` slots: saturated when in flight + admitted-not-started reach it. */
function setup(config: Partial<FlowControlConfig> = {}, capacity = 1) {
  let inFlight = 0;
  let state: PoolState | undefined;
  const fc = new FlowController({ ...DEFAULT_FLOW_CONTROL, ...config }, (_pool, extra) => state ?? (inFlight + extra.requests >= capacity ? 'saturated' : 'available'));
  const order: string[] = [];
  const signal = () => {
    const listeners = new Set<() => void>();
    return { aborted: false, addEventListener: (_t: 'abort', l: () => void) => listeners.add(l), removeEventListener: (_t: 'abort', l: () => void) => listeners.delete(l), abort() { this.aborted = true; for (const l of listeners) l(); }, listeners };
  };
  /** Admit a request; when let through it runs until `finish()` frees its slot. */
  const submit = (id: string, priority = 0, flow = 'default-flow', extra: { ttlMs?: number; bytes?: number } = {}) => {
    const sig = signal();
    const result = Promise.resolve(fc.admit({ requestId: id, pool: 'p', priority, flow, bytes: extra.bytes ?? 10, ttlMs: extra.ttlMs, signal: sig })).then((r: AdmitResult) => {
      if ('admitted' in r) {
        order.push(id);
        inFlight++;
        r.admitted.started();
      }
      return r;
    });
    return { result, signal: sig };
  };
  const finish = () => {
    inFlight--;
    fc.wake('p');
  };
  /** Let `n` running requests finish one after the other, each freeing its slot for the next. */
  const finishEach = async (n: number) => {
    for (let i = 0; i < n; i++) {
      finish();
      await flush();
    }
  };
  return { fc, order, submit, finish, finishEach, setState: (s: PoolState | undefined) => (state = s), inFlight: () => inFlight };
}

const flush = () => new Promise((r) => setTimeout(r, 0));
/** The refusal a request got. */
const refusal = async (h: { result: Promise<AdmitResult> }) => ((await h.result) as { refused: { kind: string; message: string } }).refused;

afterEach(() => {
  vi.useRealTimers();
});

describe('FlowController', () => {
  it('lets a request through at once, synchronously, when the pool has room and nothing waits', () => {
    const { fc } = setup();
    const r = fc.admit({ requestId: 'a', pool: 'p', priority: 0, flow: 'f', bytes: 1, signal: { aborted: false, addEventListener() {}, removeEventListener() {} } });
    expect('admitted' in (r as AdmitResult)).toBe(true);
  });

  it('serves a higher band first, whatever the arrival order', async () => {
    const t = setup();
    t.submit('first');
    await flush();
    const waiting = [t.submit('std-1', 0), t.submit('crit-1', 10), t.submit('std-2', 0), t.submit('crit-2', 10)];
    await flush();
    for (let i = 0; i < 4; i++) {
      t.finish();
      await flush();
    }
    await Promise.all(waiting.map((w) => w.result));
    expect(t.order).toEqual(['first', 'crit-1', 'crit-2', 'std-1', 'std-2']);
  });

  it('round robin between flows within a band: a flood does not starve a quiet flow', async () => {
    const t = setup({ defaultBand: { ...DEFAULT_BAND, fairness: 'round-robin-fairness-policy' } });
    t.submit('x');
    await flush();
    for (let i = 0; i < 6; i++) t.submit(`flood-${i}`, 0, 'noisy');
    t.submit('quiet-0', 0, 'quiet');
    t.submit('quiet-1', 0, 'quiet');
    await flush();
    for (let i = 0; i < 8; i++) {
      t.finish();
      await flush();
    }
    expect(t.order.slice(1, 5)).toEqual(['flood-0', 'quiet-0', 'flood-1', 'quiet-1']);
  });

  it('with classes of flows (flow isolation), a flow whose endpoints have room goes while one whose are full waits, in turn', async () => {
    // Two halves of the pool: 'noisy' has one slot of its own, 'quiet' one of its own.
    const used = { noisy: 0, quiet: 0 };
    const order: string[] = [];
    const fc = new FlowController(
      { ...DEFAULT_FLOW_CONTROL, defaultBand: { ...DEFAULT_BAND, fairness: 'round-robin-fairness-policy' } },
      (_pool, _extra, flow) => (flow === undefined || used[flow as keyof typeof used] >= 1 ? 'saturated' : 'available'),
      Date.now,
      (_pool, flow) => flow,
    );
    const never = { aborted: false, addEventListener() {}, removeEventListener() {} };
    const submit = (id: string, flow: 'noisy' | 'quiet') => {
      const then = (r: AdmitResult) => {
        if (!('admitted' in r)) return;
        order.push(id);
        used[flow]++;
        r.admitted.started();
      };
      const now = fc.admitThen({ requestId: id, pool: 'p', priority: 0, flow, bytes: 1, signal: never }, then);
      if (now) then(now);
    };
    submit('noisy-0', 'noisy');
    submit('noisy-1', 'noisy');
    submit('quiet-0', 'quiet');
    fc.wake('p');
    // noisy's half is full with noisy-0: quiet-0 goes past noisy-1 into its own half.
    expect(order).toEqual(['noisy-0', 'quiet-0']);
    used.noisy = 0;
    fc.wake('p');
    expect(order).toEqual(['noisy-0', 'quiet-0', 'noisy-1']);
  });

  it('global-strict: first come first served across flows', async () => {
    const t = setup();
    t.submit('x');
    await flush();
    for (const [id, flow] of [['a', 'noisy'], ['b', 'noisy'], ['c', 'quiet']]) t.submit(id!, 0, flow);
    await flush();
    for (let i = 0; i < 3; i++) {
      t.finish();
      await flush();
    }
    expect(t.order).toEqual(['x', 'a', 'b', 'c']);
  });

  it('refuses over a band’s request or byte limit, and over the global ones, saying which', async () => {
    const t = setup({ defaultBand: { ...DEFAULT_BAND, maxRequests: 2 } });
    t.submit('x');
    await flush();
    t.submit('a');
    t.submit('b');
    const r = (await t.submit('c').result) as { refused: { kind: string; message: string } };
    expect(r.refused.kind).toBe('queue-full');
    expect(r.refused.message).toContain('priority 0');
    const g = setup({ maxBytes: 25 });
    g.submit('x');
    await flush();
    g.submit('a', 0, 'f', { bytes: 20 });
    expect(((await g.submit('b', 0, 'f', { bytes: 10 }).result) as { refused: { kind: string } }).refused.kind).toBe('queue-full');
  });

  it('makes room in a full queue by refusing the newest of the flow with the most waiting, not the next flow to arrive', async () => {
    const t = setup({ defaultBand: { ...DEFAULT_BAND, maxRequests: 3 } });
    t.submit('x');
    await flush();
    const flood = ['f1', 'f2', 'f3'].map((id) => t.submit(id, 0, 'flood'));
    // The queue is full of the flood: a quiet flow's request still gets in, and the flood's newest leaves.
    const quiet = t.submit('q1', 0, 'quiet');
    const pushed = await refusal(flood[2]!);
    expect(pushed.kind).toBe('queue-full');
    expect(pushed.message).toContain('flow "flood" has the most requests waiting');
    expect(t.fc.queuedOf('p', 'flood').requests).toBe(2);
    expect(t.fc.queuedOf('p', 'quiet').requests).toBe(1);
    // The flood itself, arriving at a full queue where it has the most waiting, is refused as before.
    const again = await refusal(t.submit('f4', 0, 'flood'));
    expect(again.message).toContain('is full (3 requests');
    // Two flows with as many waiting: the one arriving does not push the other out.
    const q2 = t.submit('q2', 0, 'quiet');
    expect((await refusal(q2)).kind).toBe('queue-full');
    await t.finishEach(4);
    await quiet.result;
    expect([...t.order].sort()).toEqual(['f1', 'f2', 'q1', 'x']);
    expect(t.fc.stats.refused.get('queue-full')).toBe(3);
  });

  it('a pool filled by a lower band still takes a higher band’s request: the lowest band’s newest makes room', async () => {
    const t = setup({ maxRequests: 3 });
    t.submit('x');
    await flush();
    const standard = ['s1', 's2', 's3'].map((id) => t.submit(id, 0, 'batch'));
    const critical = t.submit('c1', 1, 'chat');
    const pushed = await refusal(standard[2]!);
    expect(pushed.kind).toBe('queue-full');
    expect(pushed.message).toContain('a request of priority 1 arrived');
    expect(pushed.message).toContain('priority (0) is the lowest waiting');
    // The other way round nothing moves: a Standard request at the full pool pushes out no Critical one.
    const late = await refusal(t.submit('s4', 0, 'batch'));
    expect(late.message).toContain('queues of pool "p" are full');
    await t.finishEach(3);
    await critical.result;
    expect(t.order).toEqual(['x', 'c1', 's1', 's2']);
  });

  it('pushes out no lower band for a request that could never fit the pool’s byte limit', async () => {
    const t = setup({ maxBytes: 25 });
    t.submit('x');
    await flush();
    t.submit('s1', 0, 'batch', { bytes: 10 });
    t.submit('s2', 0, 'batch', { bytes: 10 });
    expect((await refusal(t.submit('c1', 1, 'chat', { bytes: 30 }))).kind).toBe('queue-full');
    expect(t.fc.queuedOf('p', 'batch').requests).toBe(2);
    // One that fits frees what it needs from the lower band, the newest first.
    const fits = t.submit('c2', 1, 'chat', { bytes: 12 });
    expect(t.fc.queuedOf('p', 'batch').requests).toBe(1);
    await t.finishEach(2);
    await fits.result;
    expect(t.order).toEqual(['x', 'c2', 's1']);
  });

  it('pushes out by bytes when the byte limit is what is full', async () => {
    const t = setup({ defaultBand: { ...DEFAULT_BAND, maxBytes: 100 } });
    t.submit('x');
    await flush();
    const big = [t.submit('b1', 0, 'docs', { bytes: 40 }), t.submit('b2', 0, 'docs', { bytes: 40 })];
    const small = t.submit('s1', 0, 'chat', { bytes: 30 });
    const pushed = await refusal(big[1]!);
    expect(pushed.kind).toBe('queue-full');
    expect(pushed.message).toContain('flow "docs" has the most bytes waiting');
    expect(t.fc.queuedOf('p', 'docs').requests).toBe(1);
    await t.finishEach(2);
    await small.result;
    expect(t.order).toEqual(['x', 'b1', 's1']);
  });

  it('pushes out exactly the requests that make the arrival fit, and nobody for one that still would not', async () => {
    // The pool's byte limit: the lower band's 100 bytes could go, but the arrival's own flow holds the rest.
    const pool = setup({ maxBytes: 1000 });
    pool.submit('x');
    await flush();
    const low = pool.submit('l1', 0, 'L', { bytes: 100 });
    pool.submit('n1', 1, 'N', { bytes: 850 });
    expect((await refusal(pool.submit('n2', 1, 'N', { bytes: 200 }))).message).toContain('queues of pool "p" are full (2 requests, 950 bytes');
    expect(pool.fc.queuedOf('p', 'L').requests).toBe(1);
    // A band's byte limit: X's newest could go, and then X's next would no longer be the fattest.
    const band = setup({ defaultBand: { ...DEFAULT_BAND, maxBytes: 1000 } });
    band.submit('x');
    await flush();
    const waiting = [band.submit('x1', 0, 'X', { bytes: 400 }), band.submit('y1', 0, 'Y', { bytes: 300 }), band.submit('x2', 0, 'X', { bytes: 100 })];
    expect((await refusal(band.submit('n1', 0, 'N', { bytes: 450 }))).message).toContain('is full (3 requests, 800 bytes');
    expect(band.fc.stats.refused.get('queue-full')).toBe(1);
    // Room the arrival needs from more than one: the flood's two newest.
    const small = band.submit('s1', 0, 'S', { bytes: 350 });
    expect((await refusal(waiting[2]!)).kind).toBe('queue-full');
    expect((await refusal(waiting[0]!)).kind).toBe('queue-full');
    await band.finishEach(3);
    await Promise.all([waiting[1]!.result, small.result]);
    expect(band.order).toEqual(['x', 'y1', 's1']);
    await pool.finishEach(2);
    await low.result;
    expect(pool.order).toEqual(['x', 'n1', 'l1']);
  });

  it('property: no one is pushed out for an arrival that is then refused, and the limits always hold', () => {
    const never = { aborted: false, addEventListener() {}, removeEventListener() {} };
    const arrival = fc.record({ priority: fc.integer({ min: 0, max: 2 }), flow: fc.constantFrom('a', 'b', 'c'), bytes: fc.integer({ min: 1, max: 60 }) });
    const limits = fc.record({ maxRequests: fc.integer({ min: 0, max: 6 }), maxBytes: fc.integer({ min: 0, max: 200 }), bandRequests: fc.integer({ min: 1, max: 6 }), bandBytes: fc.integer({ min: 1, max: 200 }) });
    fc.assert(
      fc.property(limits, fc.array(arrival, { maxLength: 40 }), (l, arrivals) => {
        const band = { ...DEFAULT_BAND, maxRequests: l.bandRequests, maxBytes: l.bandBytes };
        // Always saturated: nothing is dispatched, every arrival queues or is refused.
        const control = new FlowController({ ...DEFAULT_FLOW_CONTROL, defaultRequestTTLMs: 0, maxRequests: l.maxRequests, maxBytes: l.maxBytes, defaultBand: band }, () => 'saturated');
        // A queued request hears back only when it is pushed out.
        let pushedOut = 0;
        for (const [i, a] of arrivals.entries()) {
          pushedOut = 0;
          const now = control.admitThen({ requestId: `r${i}`, pool: 'p', ...a, signal: never }, () => pushedOut++);
          if (now && 'refused' in now && pushedOut > 0) return false;
          // The limits hold: per band and in all.
          const bands = new Map<number, { requests: number; bytes: number }>();
          let requests = 0;
          let bytes = 0;
          for (const s of control.queued()) {
            const b = bands.get(s.priority) ?? { requests: 0, bytes: 0 };
            b.requests += s.requests;
            b.bytes += s.bytes;
            bands.set(s.priority, b);
            requests += s.requests;
            bytes += s.bytes;
          }
          for (const b of bands.values()) if (b.requests > band.maxRequests || b.bytes > band.maxBytes) return false;
          if ((l.maxRequests > 0 && requests > l.maxRequests) || (l.maxBytes > 0 && bytes > l.maxBytes)) return false;
        }
        return true;
      }),
      { numRuns: 500 },
    );
  });

  it('expires a request past its TTL with a refusal, by one timer, and serves the rest', async () => {
    vi.useFakeTimers();
    const t = setup();
    t.submit('x');
    await vi.advanceTimersByTimeAsync(0);
    const short = t.submit('short', 0, 'f', { ttlMs: 100 });
    const long = t.submit('long', 0, 'f', { ttlMs: 10_000 });
    await vi.advanceTimersByTimeAsync(150);
    expect(((await short.result) as { refused: { kind: string } }).refused.kind).toBe('ttl-expired');
    t.finish();
    expect('admitted' in (await long.result)).toBe(true);
    expect(vi.getTimerCount()).toBe(0);
  });

  it('a client that leaves while queued leaves the queue at once', async () => {
    const t = setup();
    t.submit('x');
    await flush();
    const gone = t.submit('gone');
    const stays = t.submit('stays');
    gone.signal.abort();
    expect(((await gone.result) as { refused: { kind: string } }).refused.kind).toBe('client-gone');
    expect(t.fc.waiting('p')).toBe(1);
    t.finish();
    await stays.result;
    expect(t.order).toEqual(['x', 'stays']);
  });

  it('sheds negative priorities at saturation instead of queueing them', async () => {
    const t = setup();
    t.submit('x');
    await flush();
    expect(((await t.submit('cheap', -1).result) as { refused: { kind: string } }).refused.kind).toBe('shed');
  });

  it('waits while the pool has no endpoint, and refuses with no-endpoints when none comes in time', async () => {
    vi.useFakeTimers();
    const t = setup({ noEndpointRequestTTLMs: 500 });
    t.setState('no-endpoints');
    const a = t.submit('a');
    await vi.advanceTimersByTimeAsync(200);
    t.setState(undefined);
    t.fc.wake('p');
    expect('admitted' in (await a.result)).toBe(true);
    t.setState('no-endpoints');
    const b = t.submit('b');
    await vi.advanceTimersByTimeAsync(600);
    expect(((await b.result) as { refused: { kind: string } }).refused.kind).toBe('no-endpoints');
  });
});
