/**
 * The director: one request, step by step, in one direction — the API layer
 * reads and checks the body, routing resolves model → pool → target,
 * scheduling picks an endpoint (or sheds), the proxy forwards and streams the
 * answer back. It holds ports (the routing table, the scheduling port, the
 * upstream client, a log), not the things behind them, so the same director
 * runs on Node, Deno and Workers.
 */
import { parseJsonBody, withModel } from '../api/body.ts';
import { errorAnswer, GatewayError, internalError, payloadTooLarge, serviceUnavailable, shed } from '../api/errors.ts';
import { checkBody, promptText, type ApiKind } from '../api/openai.ts';
import { continuationFor } from '../api/continuation.ts';
import { QUEUE_DURATION_HEADER, readFlowHeaders } from '../api/request-headers.ts';
import type { Admission, Refusal } from '../flowcontrol/controller.ts';
import type { Answer } from '../http/answer.ts';
import { isBodyTooLarge, type InboundRequest } from '../http/inbound.ts';
import type { UpstreamClient } from '../http/upstream.ts';
import type { ApiKeys } from '../api/api-keys.ts';
import type { UpstreamAuth } from '../proxy/upstream-auth.ts';
import { Proxy } from '../proxy/forward.ts';
import type { CompiledTable } from '../routing/compile.ts';
import { resolveRequest } from '../routing/resolve.ts';
import type { EndpointScheduling, Readiness } from '../scheduling/endpoint-scheduling.ts';
import type { ChatMessage, SchedulingRequest } from '../scheduling/scheduler.ts';
import { GatewayMetrics } from './metrics.ts';

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

/** The ports the director holds. */
export interface GatewayPorts {
  /** The routing table in force (undefined until one is applied). */
  table: { readonly current: CompiledTable | undefined };
  scheduling: EndpointScheduling;
  upstream: UpstreamClient;
  /** Clients' API keys, when the gateway checks them (each names a tenant). */
  clients?: ApiKeys;
  /** What the pods receive in Authorization, per pool. */
  upstreamAuth?: UpstreamAuth;
  /** Structured log lines (default: one JSON object per line on stderr). */
  log?: (line: Record<string, unknown>) => void;
}

export const EXPLAIN_HEADER = 'x-infergate-explain';
export const DECISION_HEADER = 'x-infergate-decision';

export class Gateway {
  readonly options: GatewayOptions;
  readonly metrics = new GatewayMetrics();
  readonly #ports: GatewayPorts;
  readonly #proxy: Proxy;
  readonly #log: (line: Record<string, unknown>) => void;

  constructor(ports: GatewayPorts, options: Partial<GatewayOptions> = {}) {
    this.options = { ...defaultGatewayOptions, ...options };
    this.#ports = ports;
    this.#log = ports.log ?? ((line) => console.error(JSON.stringify(line)));
    const metrics = this.metrics;
    this.#proxy = new Proxy(
      {
        upstream: ports.upstream,
        upstreamAuth: ports.upstreamAuth,
        lifecycle: ports.scheduling,
        pick: async (pool, request, exclude) => {
          const d = await ports.scheduling.pick(pool, { ...request, explain: false });
          return d.kind === 'route' ? [d.endpoint, ...d.fallbacks].find((e) => !exclude.has(e.id)) : undefined;
        },
        observer: {
          responded: (pool, model, status) => metrics.request(pool, model, status),
          refused: (pool) => metrics.refused(pool),
          retried: (pool, reason) => metrics.retried(pool, reason),
          resumed: (pool, ok) => metrics.resumed(pool, ok),
          firstToken: (pool, s) => metrics.firstToken(pool, s),
          finished: (pool, s) => metrics.duration(pool, s),
        },
      },
      this.options,
    );
  }

  /** Serve one OpenAI API request. Never throws: every failure is an OpenAI-shaped answer. */
  async answer(kind: ApiKind, request: InboundRequest, path: string): Promise<Answer> {
    const requestId = request.headers.get('x-request-id') || crypto.randomUUID();
    const startedAt = this.options.now();
    try {
      return await this.#answer(kind, request, path, requestId, startedAt);
    } catch (err) {
      const known = err instanceof GatewayError ? err : isBodyTooLarge(err) ? payloadTooLarge(this.options.bodyLimit) : undefined;
      if (known) {
        this.metrics.request('', '', known.status);
        return errorAnswer(known, { 'x-request-id': requestId });
      }
      // The client went away (mid-body, say): nobody reads an answer, and it is not a bug to log.
      if (request.signal.aborted) return { status: 499, headers: {}, body: null };
      return errorAnswer(this.unexpected(err, requestId), { 'x-request-id': requestId });
    }
  }

  /**
   * The one place an unexpected error (a bug) is logged: here, from the
   * data-plane app's error handler, and from a runtime's server. Returns the
   * 500 to answer with.
   */
  unexpected(err: unknown, requestId?: string): GatewayError {
    this.#log({ level: 'error', msg: 'unexpected error', ...(requestId ? { requestId } : {}), error: String((err as Error)?.stack ?? err) });
    return internalError(requestId ? ` (request id ${requestId})` : '');
  }

  async #answer(kind: ApiKind, request: InboundRequest, path: string, requestId: string, startedAt: number): Promise<Answer> {
    const table = this.#ports.table.current;
    if (!table) {
      throw serviceUnavailable('No routes are configured on this gateway yet. Apply a routing table with "infergate apply -f manifests.yaml" (or start it with --manifests).', 'no_routes_configured');
    }
    // api: who is asking (when keys are checked), then the body, once, checked.
    const tenant = this.#ports.clients?.authenticate(request.headers.get('authorization')).tenant;
    const bytes = await request.body(this.options.bodyLimit);
    const body = parseJsonBody(bytes);
    const parsed = checkBody(kind, body.value);
    // routing: model → route → pool → target.
    const route = resolveRequest(table, path, request.headers, parsed.model, this.options.random);

    // scheduling: where it goes, or shed.
    const explain = request.headers.get(EXPLAIN_HEADER) === '1';
    const schedulingRequest: SchedulingRequest = {
      requestId,
      targetModel: route.targetModel,
      requestedModel: route.requestedModel,
      prompt: promptText(parsed),
      // The structured messages, for precise prefix matching (the engine's own chat template, via /tokenize).
      ...(parsed.kind === 'chat' ? { messages: parsed.body.messages as ChatMessage[] } : {}),
      criticality: route.criticality,
      priority: route.priority,
      explain,
      ...(tenant !== undefined ? { tenant } : {}),
      ...readFlowHeaders(request.headers),
    };

    // flow control (when on): wait while the pool is saturated, or be refused.
    const scheduling = this.#ports.scheduling;
    let admission: Admission | undefined;
    if (scheduling.admit) {
      const admitted = await scheduling.admit(route.pool, schedulingRequest, bytes.byteLength, request.signal);
      if ('refused' in admitted) return this.#refused(admitted.refused, route.pool.name, route.requestedModel, requestId);
      admission = admitted.admitted;
    }
    let decision;
    try {
      decision = await scheduling.pick(route.pool, schedulingRequest);
    } finally {
      admission?.started();
    }
    const decisionHeader: Record<string, string> = decision.explain ? { [DECISION_HEADER]: headerSafeJson(decision.explain) } : {};
    if (admission && admission.waitedMs > 0) decisionHeader[QUEUE_DURATION_HEADER] = String(Math.round(admission.waitedMs));
    if (decision.kind !== 'route') this.metrics.request(route.pool.name, route.requestedModel, decision.kind === 'shed' ? 429 : 503);
    if (decision.kind === 'shed') {
      this.metrics.shed(route.pool.name);
      return errorAnswer(shed(`Pool "${route.pool.name}" is saturated and this request is sheddable (${decision.reason}). Retry after ${decision.retryAfterSeconds} s.`, decision.retryAfterSeconds), { ...decisionHeader, 'x-request-id': requestId });
    }
    if (decision.kind === 'unavailable') {
      return errorAnswer(serviceUnavailable(`No endpoint of pool "${route.pool.name}" can take this request: ${decision.reason}. Retry shortly; if it persists, check the pool's model servers.`, 'no_ready_endpoint', 1), { ...decisionHeader, 'x-request-id': requestId });
    }

    // proxy: forward with the target model, restore the asked-for name in the answer.
    return this.#proxy.forward({
      pool: route.pool,
      candidates: [decision.endpoint, ...decision.fallbacks],
      scheduling: schedulingRequest,
      request,
      path,
      body: parsed.body.model === route.targetModel ? bytes : withModel(body, route.targetModel),
      stream: parsed.stream,
      restoreModel: route.targetModel !== route.requestedModel ? { target: route.targetModel, requested: route.requestedModel } : undefined,
      continuation: continuationFor(kind, body.value, route.targetModel)?.body,
      extraHeaders: { ...decisionHeader, 'x-request-id': requestId },
      startedAt,
    });
  }

  /** A request flow control did not let through: 429 (limits, TTL, shed), 503 (no endpoints), 499 (the client left). */
  #refused(refusal: Refusal, pool: string, model: string, requestId: string): Answer {
    if (refusal.kind === 'client-gone') return { status: 499, headers: {}, body: null };
    const headers = { 'x-request-id': requestId };
    if (refusal.kind === 'no-endpoints') {
      this.metrics.request(pool, model, 503);
      return errorAnswer(serviceUnavailable(`No endpoint of pool "${pool}" came up in time: ${refusal.message}. Retry shortly; if it persists, check the pool's model servers.`, 'no_ready_endpoint', refusal.retryAfterSeconds), headers);
    }
    this.metrics.request(pool, model, 429);
    if (refusal.kind === 'shed') this.metrics.shed(pool);
    const code = refusal.kind === 'shed' ? 'pool_saturated' : refusal.kind === 'queue-full' ? 'flow_control_queue_full' : 'flow_control_ttl_expired';
    return errorAnswer(new GatewayError({ status: 429, type: 'rate_limit_error', code, message: `${refusal.message}. Retry after ${refusal.retryAfterSeconds} s.`, headers: { 'retry-after': String(refusal.retryAfterSeconds) } }), headers);
  }

  /** `GET /v1/models`: the model names the routing table serves, in OpenAI's list shape. */
  models(): Answer {
    const table = this.#ports.table.current;
    const names = table?.modelNames ?? [];
    const created = Math.floor((table ? this.options.now() : 0) / 1000);
    const body = JSON.stringify({ object: 'list', data: names.map((id) => ({ id, object: 'model', created, owned_by: 'infergate' })) });
    return { status: 200, headers: { 'content-type': 'application/json' }, body };
  }

  /** Ready when a table is loaded and some pool can serve (see EndpointScheduling.readiness). */
  async readiness(): Promise<Readiness> {
    const table = this.#ports.table.current;
    if (!table) return { ready: false, reason: 'no routing table is loaded' };
    return this.#ports.scheduling.readiness([...table.pools.values()]);
  }
}

/** JSON for a header value: HTTP field values must be ASCII (JSON.stringify already escapes control characters). */
export function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
