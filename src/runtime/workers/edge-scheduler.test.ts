/**
 * The isolate's side of edge scheduling keeps each request's reports by its
 * in-flight key: clients may repeat an x-request-id, and two requests sharing
 * one must neither count a dispatch twice at the pool's object nor share a
 * context that keeps their reports alive.
 */
import { describe, expect, it } from 'vitest';
import { endpoint, pool, request } from '../../scheduling/testing.ts';
import type { Decision } from '../../scheduling/scheduler.ts';
import { EdgeScheduler, type PoolTarget } from './edge-scheduler.ts';

/** A pool's object that routes each decision to the next of `endpoints` and records the reports it hears. */
function recordingTarget(endpoints = [endpoint(1), endpoint(2)]) {
  let next = 0;
  const heard = { dispatched: [] as string[], completed: [] as { endpoint: string; key: string }[] };
  const target: PoolTarget = {
    decide: async (): Promise<Decision> => ({ kind: 'route', endpoint: endpoints[next++ % endpoints.length]!, fallbacks: [] }),
    dispatched: (_pool, e) => void heard.dispatched.push(e.id),
    completed: (_pool, endpointId, key) => void heard.completed.push({ endpoint: endpointId, key }),
    readiness: async () => ({ ready: true }),
    servedModels: async () => [],
  };
  return { target, heard };
}

const context = () => {
  const kept: Promise<unknown>[] = [];
  return { kept, ctx: { waitUntil: (p: Promise<unknown>) => void kept.push(p), passThroughOnException: () => {} } };
};

describe('EdgeScheduler: requests that share an x-request-id', () => {
  it('keeps each by its own key: no dispatch counted twice, each end reported under its own key, in its own context', async () => {
    const { target, heard } = recordingTarget();
    const edge = new EdgeScheduler(() => target);
    const p = pool();
    const a = request({ requestId: 'same-id', key: 'k-a' });
    const b = request({ requestId: 'same-id', key: 'k-b' });
    const ctxA = context();
    const ctxB = context();
    edge.begin('k-a', ctxA.ctx);
    edge.begin('k-b', ctxB.ctx);
    // Both decide before either is forwarded: each decision already counted its own endpoint at the pool's object.
    const da = await edge.pick(p, a);
    const db = await edge.pick(p, b);
    if (da.kind !== 'route' || db.kind !== 'route') throw new Error('expected routes');
    edge.dispatched(p, da.endpoint, a);
    edge.dispatched(p, db.endpoint, b);
    edge.completed(p, da.endpoint, a, { status: 200 });
    edge.completed(p, db.endpoint, b, { status: 200 });
    await Promise.all([...ctxA.kept, ...ctxB.kept]);
    expect(heard.dispatched).toEqual([]);
    expect(heard.completed).toEqual([
      { endpoint: da.endpoint.id, key: 'k-a' },
      { endpoint: db.endpoint.id, key: 'k-b' },
    ]);
    // Each report is kept alive by its own request's context.
    expect(ctxA.kept).toHaveLength(1);
    expect(ctxB.kept).toHaveLength(1);
  });
});

describe('EdgeScheduler: GET /v1/models', () => {
  it("lists what the pools' objects say their pods serve", async () => {
    const { target } = recordingTarget();
    target.servedModels = async (p) => [{ id: 'base-model', pools: [p.name] }];
    const edge = new EdgeScheduler(() => target);
    await edge.refreshServedModels([pool()]);
    expect(edge.servedModels([pool()]).map((m) => m.id)).toEqual(['base-model']);
  });
});
