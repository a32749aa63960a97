/**
 * Fixtures for the scheduling tests: endpoints from a few numbers, and a
 * scorer run alone through the TypeScript twin kernel.
 */
import type { Endpoint, EndpointMetrics } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import { MAX_ENDPOINTS, PickerKind } from './kernel/layout.ts';
import { TwinKernel } from './kernel/twin.ts';
import { PoolState } from './pool-state.ts';
import type { Candidate, DecisionContext, ScorerPlugin } from './plugins/types.ts';
import type { SchedulingRequest } from './scheduler.ts';

export const NOW = 1_800_000_000_000;

export function endpoint(n: number, metrics: Partial<EndpointMetrics> = {}, extra: Partial<Endpoint> = {}): Endpoint {
  return {
    id: `10.0.0.${n}:8000`,
    address: `10.0.0.${n}`,
    port: 8000,
    labels: {},
    ready: true,
    engine: 'vllm',
    scrapedAt: NOW - 20,
    metrics: {
      waiting: 0, running: 0, kvUsage: 0, activeAdapters: [], waitingAdapters: [], maxAdapters: 4, blockSize: 16, totalBlocks: 1000,
      ...metrics,
    },
    ...extra,
  };
}

export function pool(extra: Partial<Pool> = {}): Pool {
  return { name: 'pool', selector: {}, targetPorts: [8000], appProtocol: 'http', failureMode: 'FailClose', ...extra };
}

export function request(extra: Partial<SchedulingRequest> = {}): SchedulingRequest {
  return {
    requestId: 'r1', targetModel: 'base', requestedModel: 'base', prompt: 'hello', criticality: 'Standard', priority: 0, explain: false,
    ...extra,
  };
}

const state = new PoolState();

export function candidates(endpoints: Endpoint[], now = NOW): Candidate[] {
  return endpoints.map((e) => ({ endpoint: e, metrics: e.metrics!, ageMs: now - (e.scrapedAt ?? -Infinity), record: state.record(e.id, now) }));
}

export function context(req: SchedulingRequest = request(), kernel = new TwinKernel()): DecisionContext {
  return { pool: pool(), request: req, now: NOW, kernel, promptBlocks: 0, rejected: [] };
}

/** The scores one scorer alone gives the endpoints (weight 1, via the twin kernel). */
export function scoresOf(scorer: ScorerPlugin, endpoints: Endpoint[], req: SchedulingRequest = request()): number[] {
  const ctx = context(req);
  const cands = candidates(endpoints);
  scorer.prepare?.(cands, ctx);
  ctx.kernel.scorerKind[0] = scorer.scorer;
  ctx.kernel.scorerWeight[0] = 1;
  ctx.kernel.scorerParam[0] = scorer.param ?? 0;
  ctx.kernel.scoreAndPick(cands.length, 1, ctx.promptBlocks, PickerKind.maxScore, 1, 0);
  return Array.from(ctx.kernel.scores.subarray(0, MAX_ENDPOINTS).slice(0, cands.length));
}
