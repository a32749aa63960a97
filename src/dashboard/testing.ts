/**
 * A test double of DashboardSource for the dashboard's tests: it holds a
 * state, pushes the updates a test asks for, and counts its subscribers (to
 * check a closed page stops listening). The sample state has two pools in the
 * shape of DESIGN.md's use cases, decisions with the scheduler's explanation
 * shape, and a routing table.
 */
import * as v from 'valibot';
import { StateEvent, type DashboardSource, type DecisionView, type FeedUpdate, type PoolView, type SeriesPoint } from './feed.ts';

export const T0 = 1_800_000_000_000;

export class DashboardSourceDouble implements DashboardSource {
  current: StateEvent;
  readonly #listeners = new Set<(event: FeedUpdate) => void>();

  constructor(state: StateEvent = sampleState()) {
    // A fixture that breaks the contract would make the page's validation, not the page, fail.
    this.current = v.parse(StateEvent, state);
  }

  get subscribers(): number {
    return this.#listeners.size;
  }

  state(): StateEvent {
    return structuredClone(this.current);
  }

  subscribe(listener: (event: FeedUpdate) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  /** Apply an update to the held state (as a real source would) and send it. */
  push(event: FeedUpdate): void {
    const s = this.current;
    if (event.type === 'pools') Object.assign(s, { pools: event.pools, at: event.at });
    else if (event.type === 'point') Object.assign(s, { series: [...s.series, event.point], totals: event.totals });
    else if (event.type === 'decisions') s.decisions = [...s.decisions, ...event.decisions];
    else s.routing = event.routing;
    for (const listener of this.#listeners) listener(structuredClone(event));
  }

  /** Change one pod of one pool and push the pools. */
  setPod(pool: string, id: string, change: Partial<PoolView['pods'][number]>): void {
    const pools = structuredClone(this.current.pools);
    const pod = pools.find((p) => p.name === pool)?.pods.find((p) => p.id === id);
    if (!pod) throw new Error(`the double has no pod ${id} in pool ${pool}`);
    Object.assign(pod, change);
    this.push({ type: 'pools', at: this.current.at + 500, pools });
  }
}

export function samplePoint(i: number, requests = 40 + (i % 7)): SeriesPoint {
  return {
    t: T0 - (60 - i) * 1000,
    requests,
    errors: i % 10 === 0 ? 2 : 0,
    shed: i % 15 === 0 ? 3 : 0,
    queued: i % 5 === 0 ? 1 : 0,
    ttftMs: { p50: 45 + (i % 5), p90: 90 + (i % 9), p99: 180 + (i % 13) },
    latencyMs: { p50: 900 + (i % 11) * 10, p90: 1600 + (i % 7) * 20, p99: 2400 + (i % 5) * 50 },
  };
}

export function sampleDecisions(): DecisionView[] {
  return [
    {
      seq: 41,
      at: T0 - 2000,
      model: 'chatbot',
      targetModel: 'gemma-3-1b',
      pool: 'gemma3',
      outcome: 'route',
      endpoint: '10.0.0.2:8000',
      explanation: {
        profile: 'default',
        kernel: 'wasm',
        picker: 'max-score',
        weights: { queue: 2, 'kv-cache': 2, 'prefix-cache': 3 },
        saturation: 0.31,
        picked: '10.0.0.2:8000',
        considered: 3,
        candidates: [
          { id: '10.0.0.2:8000', total: 5.9, scores: { queue: 1, 'kv-cache': 0.95, 'prefix-cache': 0.667 }, ageMs: 21 },
          { id: '10.0.0.1:8000', total: 3.2, scores: { queue: 0.5, 'kv-cache': 0.6, 'prefix-cache': 0.4 }, ageMs: 33 },
          { id: '10.0.0.3:8000', total: 1.1, scores: { queue: 0, 'kv-cache': 0.55, 'prefix-cache': 0 }, ageMs: 48 },
        ],
        filtered: [{ id: '10.0.0.4:8000', by: 'fresh-metrics', reason: 'metrics 2400 ms old' }],
      },
    },
    {
      seq: 42,
      at: T0 - 1000,
      model: 'english-bot',
      targetModel: 'english-bot-v2',
      pool: 'llama-lora',
      outcome: 'shed',
      reason: 'pool "llama-lora" is saturated (1.12 ≥ 1.0): Sheddable requests are refused',
      explanation: { profile: 'default', kernel: 'wasm', saturation: 1.12, shed: 'pool "llama-lora" is saturated' },
    },
    { seq: 43, at: T0 - 500, model: 'chatbot', pool: 'gemma3', outcome: 'route', endpoint: '10.0.0.1:8000' },
  ];
}

export function sampleState(): StateEvent {
  const pod = (n: number, extra: Partial<PoolView['pods'][number]> = {}): PoolView['pods'][number] => ({
    id: `10.0.0.${n}:8000`,
    engine: 'vllm',
    ready: true,
    draining: false,
    waiting: n,
    running: 4 + n,
    kvUsage: 0.2 * n,
    inFlight: 1,
    activeAdapters: [],
    waitingAdapters: [],
    metricAgeMs: 20 + n,
    ...extra,
  });
  return {
    type: 'state',
    at: T0,
    pools: [
      { name: 'gemma3', failureMode: 'FailClose', saturation: 0.31, pods: [pod(1), pod(2), pod(3, { kvUsage: 0.85 }), pod(4, { ready: false, metricAgeMs: 2400, lastError: 'GET /metrics: connection refused' })] },
      {
        name: 'llama-lora',
        failureMode: 'FailOpen',
        profile: 'lora',
        saturation: 1.12,
        pods: [
          { ...pod(11, { waiting: 6, kvUsage: 0.72 }), activeAdapters: ['english-bot', 'spanish-bot'], waitingAdapters: ['french-bot'], maxAdapters: 4 },
          { ...pod(12, { waiting: 0, kvUsage: 0.1, draining: true }), activeAdapters: ['spanish-bot'], maxAdapters: 4 },
        ],
      },
    ],
    series: Array.from({ length: 60 }, (_, i) => samplePoint(i)),
    totals: { requests: 12_345, errors: 17, shed: 40, queued: 9 },
    decisions: sampleDecisions(),
    routing: {
      version: 3,
      objects: [
        { kind: 'Route', name: 'llm-route', summary: '/ → gemma3 ×1', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: 'in the active routing table, version 3' }] },
        { kind: 'Pool', name: 'gemma3', summary: 'selector app=gemma3, ports 8000, FailClose', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '' }] },
        { kind: 'Model', name: 'chatbot', summary: 'pool gemma3, Critical', conditions: [{ type: 'Accepted', status: 'False', reason: 'Superseded', message: 'an older InferenceModel claims this modelName' }] },
      ],
    },
  };
}
