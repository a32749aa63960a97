import * as v from 'valibot';
import { describe, expect, it } from 'vitest';
import type { Endpoint } from '../endpoints/types.ts';
import { validateTable } from '../routing/validate.ts';
import { PoolView, RoutingView } from './feed.ts';
import { poolView, routingView } from './views.ts';

const T = 1_800_000_000_000;
const metrics = { waiting: 3, running: 5, kvUsage: 0.42, activeAdapters: ['en'], waitingAdapters: [], maxAdapters: 4, blockSize: 16, totalBlocks: 1000 };

describe('dashboard views', () => {
  it('turns a pool snapshot into a PoolView the feed schema accepts', () => {
    const endpoints: Endpoint[] = [
      { id: '10.0.0.1:8000', address: '10.0.0.1', port: 8000, labels: {}, ready: true, engine: 'vllm', metrics, scrapedAt: T - 30 },
      { id: '10.0.0.2:8000', address: '10.0.0.2', port: 8000, labels: {}, ready: false, engine: 'sglang', lastError: 'connection refused' },
      { id: '10.0.0.3:8000', address: '10.0.0.3', port: 8000, labels: {}, ready: true, engine: 'vllm', metrics: { ...metrics, kvUsage: 1.3, waiting: Number.NaN }, scrapedAt: T + 5 },
    ];
    const pool = { name: 'gemma3', selector: { app: 'gemma3' }, targetPorts: [8000], appProtocol: 'http' as const, failureMode: 'FailOpen' as const };
    const view = poolView(pool, { pool: 'gemma3', endpoints, at: T, hasMetrics: true }, T, { saturation: Infinity, pod: (e) => ({ inFlight: e.id.endsWith('1:8000') ? 2 : 0, draining: e.id.startsWith('10.0.0.3') }) });
    expect(v.parse(PoolView, view)).toEqual(view);
    expect(view.saturation).toBeUndefined();
    expect(view.pods[0]).toMatchObject({ waiting: 3, running: 5, kvUsage: 0.42, metricAgeMs: 30, inFlight: 2, activeAdapters: ['en'], maxAdapters: 4 });
    expect(view.pods[1]).toMatchObject({ ready: false, metricAgeMs: null, lastError: 'connection refused', waiting: 0 });
    // Out-of-range scrapes are clamped rather than breaking the page's validation.
    expect(view.pods[2]).toMatchObject({ kvUsage: 1, waiting: 0, metricAgeMs: 0, draining: true });
  });

  it('lists every object of the active table with conditions, preferring reported ones', () => {
    const checked = validateTable({
      version: 4,
      routes: [{ name: 'r', rules: [{ matches: [{ path: { type: 'Exact', value: '/v1/chat/completions' }, headers: [{ name: 'x-tier', value: 'gold' }] }], backendRefs: [{ pool: 'p', weight: 3 }] }] }],
      pools: [{ name: 'p', selector: { app: 'vllm' }, targetPorts: [8000] }],
      models: [{ name: 'chatbot', pool: 'p', criticality: 'Critical', targetModels: [{ name: 'lora-a', weight: 1 }] }],
      objectives: [{ name: 'batch', pool: 'p', priority: -1 }],
    });
    if (!checked.ok) throw new Error(JSON.stringify(checked.problems));
    const reported = new Map([['Model/chatbot', [{ type: 'Accepted', status: 'False' as const, reason: 'Superseded', message: 'older claim wins' }]]]);
    const view = v.parse(RoutingView, routingView(checked.table, reported));
    expect(view.version).toBe(checked.table.version);
    expect(view.objects.map((o) => `${o.kind}/${o.name}: ${o.summary}`)).toEqual([
      'Route/r: =/v1/chat/completions x-tier=gold → p ×3',
      'Pool/p: selector app=vllm, ports 8000, FailClose',
      'Model/chatbot: pool p, Critical → lora-a ×1',
      'Objective/batch: priority -1 on pool p',
    ]);
    expect(view.objects[0]!.conditions.map((c) => `${c.type}=${c.status}`)).toEqual(['Accepted=True', 'ResolvedRefs=True']);
    expect(view.objects[1]!.conditions.map((c) => c.type)).toEqual(['Accepted']);
    expect(view.objects[2]!.conditions[0]!.reason).toBe('Superseded');
    expect(routingView(undefined)).toEqual({ version: 0, objects: [] });
  });
});
