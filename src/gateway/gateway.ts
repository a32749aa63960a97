/**
 * One request, step by step: read and check the body, resolve model → pool →
 * target, pick an endpoint, proxy and stream the answer back. Web-standard
 * only: the same Gateway runs on Node, Deno and Workers.
 */
import { parseJsonObject } from '../api/body.ts';
import { checkBody, promptText, type ApiKind } from '../api/openai.ts';
import { GatewayError, internalError, serviceUnavailable, shed } from '../api/errors.ts';
import type { EndpointSource, PoolSnapshot } from '../endpoints/types.ts';
import type { RoutingTableStore } from '../routing/store.ts';
import type { Decision, Scheduler, SchedulingRequest } from '../scheduling/scheduler.ts';
import type { Pool } from '../routing/schema.ts';
import type { UpstreamClient } from '../http/upstream.ts';
import { OutlierDetector } from '../scheduling/outliers.ts';
import { GatewayMetrics } from './metrics.ts';
import { resolveRequest } from '../routing/resolve.ts';
import { forward } from '../proxy/forward.ts';
import type { InboundRequest } from '../http/inbound.ts';
import { errorAnswer, toResponse, type Answer } from '../http/answer.ts';

export interface GatewayOptions {
  /** Largest request body accepted, bytes. */
  bodyLimit: number;
  /** Give up on an upstream whose response headers take longer, ms. */
  upstreamTimeoutMs: number;
  /** Endpoints tried per request when connections are refused. */
  maxAttempts: number;
  random: () => number;
  now: () => number;
}

export const defaultGatewayOptions: GatewayOptions = {
  bodyLimit: 8 * 1024 * 1024,
  upstreamTimeoutMs: 300_000,
  maxAttempts: 3,
  random: Math.random,
  now: Date.now,
};

/**
 * A scheduler that decides elsewhere and answers later: on Workers the pool's
 * Durable Object holds the metrics, in-flight counts and prefix index.
 */
export interface RemoteScheduler extends Omit<Scheduler, 'decide'> {
  decide(pool: Pool, snapshot: PoolSnapshot, request: SchedulingRequest): Promise<Decision>;
}

const encoder = new TextEncoder();
export const EXPLAIN_HEADER = 'x-infergate-explain';
export const DECISION_HEADER = 'x-infergate-decision';

export class Gateway {
  readonly options: GatewayOptions;
  readonly outliers: OutlierDetector;
  readonly metrics = new GatewayMetrics();

  constructor(
    readonly store: RoutingTableStore,
    readonly endpoints: EndpointSource,
    readonly scheduler: Scheduler | RemoteScheduler,
    readonly upstream: UpstreamClient,
    options: Partial<GatewayOptions> = {},
  ) {
    this.options = { ...defaultGatewayOptions, ...options };
    this.outliers = new OutlierDetector(this.options.now);
  }

  /** Serve one OpenAI API request as a web Response. */
  async handle(kind: ApiKind, request: InboundRequest, path: string): Promise<Response> {
    return toResponse(await this.answer(kind, request, path));
  }

  /** Serve one OpenAI API request. Never throws: every failure is an OpenAI-shaped answer. */
  async answer(kind: ApiKind, request: InboundRequest, path: string): Promise<Answer> {
    const requestId = request.headers.get('x-request-id') || crypto.randomUUID();
    const startedAt = this.options.now();
    try {
      return await this.#handle(kind, request, path, requestId, startedAt);
    } catch (err) {
      if (err instanceof GatewayError) {
        this.metrics.request('', '', err.status);
        return errorAnswer(err, { 'x-request-id': requestId });
      }
      console.error(JSON.stringify({ level: 'error', msg: 'unexpected error', requestId, error: String((err as Error)?.stack ?? err) }));
      return errorAnswer(internalError(` (request id ${requestId})`), { 'x-request-id': requestId });
    }
  }

  async #handle(kind: ApiKind, request: InboundRequest, path: string, requestId: string, startedAt: number): Promise<Answer> {
    const table = this.store.current;
    if (!table) {
      throw serviceUnavailable('No routes are configured on this gateway yet. Apply a routing table with "infergate apply -f manifests.yaml" (or start it with --manifests).', 'no_routes_configured');
    }
    let bytes = await request.body(this.options.bodyLimit);
    const parsed = checkBody(kind, parseJsonObject(bytes));
    const route = resolveRequest(table, path, request.headers, parsed.model, this.options.random);

    const explain = request.headers.get(EXPLAIN_HEADER) === '1';
    const schedulingRequest: SchedulingRequest = {
      requestId,
      targetModel: route.targetModel,
      requestedModel: route.requestedModel,
      prompt: promptText(parsed),
      criticality: route.criticality,
      priority: route.priority,
      explain,
    };
    const snapshot = this.outliers.apply(this.endpoints.snapshot(route.pool));
    const decided = this.scheduler.decide(route.pool, snapshot, schedulingRequest);
    const decision = decided instanceof Promise ? await decided : decided;
    const decisionHeader: Record<string, string> = decision.explain ? { [DECISION_HEADER]: headerSafeJson(decision.explain) } : {};
    if (decision.kind !== 'route') this.metrics.request(route.pool.name, route.requestedModel, decision.kind === 'shed' ? 429 : 503);
    if (decision.kind === 'shed') {
      this.metrics.shed(route.pool.name);
      return errorAnswer(shed(`Pool "${route.pool.name}" is saturated and this request is sheddable (${decision.reason}). Retry after ${decision.retryAfterSeconds} s.`, decision.retryAfterSeconds), { ...decisionHeader, 'x-request-id': requestId });
    }
    if (decision.kind === 'unavailable') {
      return errorAnswer(serviceUnavailable(`No endpoint of pool "${route.pool.name}" can take this request: ${decision.reason}. Retry shortly; if it persists, check the pool's model servers.`, 'no_ready_endpoint', 1), { ...decisionHeader, 'x-request-id': requestId });
    }

    if (parsed.body.model !== route.targetModel) {
      parsed.body.model = route.targetModel;
      bytes = encoder.encode(JSON.stringify(parsed.body));
    }
    return forward(this, {
      pool: route.pool,
      candidates: [decision.endpoint, ...decision.fallbacks],
      scheduling: schedulingRequest,
      request,
      path,
      body: bytes,
      stream: parsed.stream,
      restoreModel: route.targetModel !== route.requestedModel ? { target: route.targetModel, requested: route.requestedModel } : undefined,
      extraHeaders: { ...decisionHeader, 'x-request-id': requestId },
      startedAt,
    });
  }

  /** `GET /v1/models`: the model names the routing table serves, in OpenAI's list shape. */
  models(): Response {
    const names = this.store.current?.modelNames ?? [];
    const created = Math.floor((this.store.current ? this.options.now() : 0) / 1000);
    return Response.json({ object: 'list', data: names.map((id) => ({ id, object: 'model', created, owned_by: 'infergate' })) });
  }

  /** Ready when a table is loaded and at least one pool has a ready endpoint. */
  readiness(): { ready: boolean; reason?: string } {
    const table = this.store.current;
    if (!table) return { ready: false, reason: 'no routing table is loaded' };
    const sourceProblem = this.endpoints.notReadyReason();
    if (sourceProblem) return { ready: false, reason: sourceProblem };
    for (const pool of table.pools.values()) {
      if (this.endpoints.snapshot(pool).endpoints.some((e) => e.ready)) return { ready: true };
    }
    return { ready: false, reason: `no pool has a ready endpoint (pools: ${[...table.pools.keys()].join(', ') || 'none'})` };
  }
}

/** JSON for a header value: HTTP field values must be ASCII (JSON.stringify already escapes control characters). */
export function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
