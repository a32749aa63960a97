/**
 * FlowAdmission and routing-table changes: requests that wait are judged by
 * the table's pool for their name, a request resolved against an older table
 * does not bring the old pool back, and a pool the table drops does not keep
 * its requests waiting. And the concurrency detector: what is in flight on
 * the ready endpoints counts, as snapshots change.
 */
import { describe, expect, it } from 'vitest';
import { DEFAULT_FLOW_CONTROL } from '../flowcontrol/config.ts';
import type { AdmitResult } from '../flowcontrol/controller.ts';
import type { Endpoint, EndpointSource, PoolSnapshot } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import { FlowAdmission } from './admission.ts';
import { DEFAULT_SATURATION } from './config.ts';
import type { Scheduler, SchedulingRequest } from './scheduler.ts';
import { createScheduler } from './index.ts';

const NOW = 1_000_000;

/** An endpoint whose queue holds `waiting` requests. */
function endpoint(id: string, waiting: number): Endpoint {
  return {
    id, address: '10.0.0.1', port: 8000, labels: {}, ready: true, engine: 'vllm', scrapedAt: NOW,
    metrics: { waiting, running: 4, kvUsage: 0.2, activeAdapters: [], waitingAdapters: [], maxAdapters: 0, blockSize: 16, totalBlocks: 1000 },
  };
}

/** Pods by selector: `full` is at the queue threshold (5), `room` has none waiting. */
const PODS: Record<string, Endpoint[]> = { full: [endpoint('busy', 5)], room: [endpoint('idle', 0)] };

function pool(name: string, pods: 'full' | 'room'): Pool {
  return { name, selector: { pods }, targetPorts: [8000], appProtocol: 'http', failureMode: 'FailClose' } as Pool;
}

function admission(): FlowAdmission {
  const snapshot = (p: Pool): PoolSnapshot => ({ pool: p.name, endpoints: PODS[p.selector.pods!] ?? [], at: NOW, hasMetrics: true });
  const scheduler = { inFlight: () => ({ total: 0, unreflected: 0 }) } as unknown as Scheduler;
  return new FlowAdmission({ snapshot } as unknown as EndpointSource, scheduler, snapshot, {
    flowControl: DEFAULT_FLOW_CONTROL,
    saturation: { ...DEFAULT_SATURATION, queueDepthThreshold: 5, kvCacheUtilThreshold: 0.9, metricsStalenessThreshold: 60_000 },
    maxConcurrency: 0,
    now: () => NOW,
  });
}

const signal = { aborted: false, addEventListener: () => {}, removeEventListener: () => {} };
const request = (id: string): SchedulingRequest => ({ requestId: id, targetModel: 'm', requestedModel: 'm', prompt: 'hello', criticality: 'Standard', priority: 0, explain: false });

/** Admit and record when (and how) the request leaves flow control. */
function admit(flow: FlowAdmission, p: Pool, id: string): { result: AdmitResult | undefined } {
  const out: { result: AdmitResult | undefined } = { result: undefined };
  out.result = flow.admitThen(p, request(id), 5, signal, (r) => (out.result = r));
  return out;
}

/** A flow admission whose table has `p`, and a request waiting in `p` (its pods are full). */
function waitingIn(p: Pool, id: string): { flow: FlowAdmission; waiting: { result: AdmitResult | undefined } } {
  const flow = admission();
  flow.tableApplied([p]);
  const waiting = admit(flow, p, id);
  expect(waiting.result).toBeUndefined();
  return { flow, waiting };
}

describe('FlowAdmission across routing tables', () => {
  it('judges what waits by the new table’s pool of the same name, at once', () => {
    const old = pool('chat', 'full');
    const { flow, waiting } = waitingIn(old, 'r1');
    flow.wake(old);
    expect(waiting.result).toBeUndefined();
    // The new table points the pool at pods with room: what waits goes now, not at its TTL.
    flow.tableApplied([pool('chat', 'room')]);
    expect(waiting.result).toMatchObject({ admitted: { waitedMs: 0 } });
    flow.close();
  });

  it('keeps the table’s pool when a request resolved against the older table comes later', () => {
    const flow = admission();
    const old = pool('chat', 'full');
    flow.tableApplied([old]);
    const fresh = pool('chat', 'room');
    flow.tableApplied([fresh]);
    // This request carries the old pool: its own look finds it full, so it waits...
    const late = admit(flow, old, 'r2');
    expect(late.result).toBeUndefined();
    // ...but a wake-up judges the pool by the table's object, which has room.
    flow.wake(fresh);
    expect(late.result).toMatchObject({ admitted: {} });
    flow.close();
  });

  it('lets go of what waits in a pool the table no longer has (scheduling answers for it)', () => {
    const { flow, waiting } = waitingIn(pool('old-chat', 'full'), 'r3');
    flow.tableApplied([pool('chat', 'room')]);
    expect(waiting.result).toMatchObject({ admitted: {} });
    flow.close();
  });
});

describe('FlowAdmission: the concurrency detector', () => {
  /** Flow control over the real picker with a limit of 2 requests in flight a ready endpoint, the queue threshold out of reach. */
  function concurrency(endpoints: () => Endpoint[]) {
    const picker = createScheduler({ now: () => NOW });
    const snapshot = (p: Pool): PoolSnapshot => ({ pool: p.name, endpoints: endpoints(), at: NOW, hasMetrics: true });
    const flow = new FlowAdmission({ snapshot } as unknown as EndpointSource, picker, snapshot, {
      flowControl: DEFAULT_FLOW_CONTROL,
      saturation: { ...DEFAULT_SATURATION, queueDepthThreshold: 1000, kvCacheUtilThreshold: 1, metricsStalenessThreshold: 60_000 },
      maxConcurrency: 2,
      now: () => NOW,
    });
    return { picker, flow };
  }

  it('counts what is in flight on ready endpoints only, as snapshots change (a pod draining, a pod gone)', () => {
    const a = endpoint('a', 0);
    const b = endpoint('b', 0);
    const gone = endpoint('gone', 0);
    let endpoints = [a, b, gone];
    const p = pool('chat', 'room');
    const { picker, flow } = concurrency(() => endpoints);
    // Three requests on a, one on b, two on a pod that will leave the pool.
    for (const [e, id] of [[a, 'a1'], [a, 'a2'], [a, 'a3'], [b, 'b1'], [gone, 'g1'], [gone, 'g2']] as const) picker.dispatched(p, e, request(id));
    // All three ready: 6 in flight against 2 × 3.
    expect(admit(flow, p, 'r1').result).toBeUndefined();
    // a drains (not ready) and `gone` leaves: b alone counts, 1 in flight against 2 × 1 — but r1 waits, and is let
    // through first (it takes the room), so the next waits.
    endpoints = [{ ...a, ready: false }, b];
    flow.wake(p);
    const next = admit(flow, p, 'r2');
    expect(next.result).toBeUndefined();
    // b's request ends: room for one more.
    picker.completed(p, b, request('b1'));
    flow.wake(p);
    expect(next.result).toMatchObject({ admitted: {} });
    flow.close();
  });
});
