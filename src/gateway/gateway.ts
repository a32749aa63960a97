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
import { readAnyBody, type RouteKind } from '../api/any-body.ts';
import { continuationFor } from '../api/continuation.ts';
import { QUEUE_DURATION_HEADER, readFlowHeaders } from '../api/request-headers.ts';
import type { Admission, Refusal } from '../flowcontrol/controller.ts';
import type { Answer } from '../http/answer.ts';
import { isBodyTooLarge, type InboundRequest } from '../http/inbound.ts';
import type { UpstreamClient } from '../http/upstream.ts';
import type { ApiKeys } from '../api/api-keys.ts';
import type { UpstreamAuth } from '../proxy/upstream-auth.ts';
import { ObserverHub, type ObservedRequest, type RequestObserver } from '../proxy/observer.ts';
import { DESTINATION_HEADER, Proxy } from '../proxy/forward.ts';
import type { CompiledTable } from '../routing/compile.ts';
import { resolveRequest } from '../routing/resolve.ts';
import { modelList } from '../routing/models-list.ts';
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
  /** Who hears how each request goes (tracing, the access log, the dashboard); the metrics always do. */
  observers?: readonly RequestObserver[];
}

export const EXPLAIN_HEADER = 'x-infergate-explain';
export const DECISION_HEADER = 'x-infergate-decision';

export class Gateway {
  readonly options: GatewayOptions;
  readonly metrics = new GatewayMetrics();
  /** Every request's lifecycle goes here (src/proxy/observer.ts); more observers may be added after construction. */
  readonly observers: ObserverHub;
  readonly #ports: GatewayPorts;
  readonly #proxy: Proxy;
  readonly #log: (line: Record<string, unknown>) => void;

  constructor(ports: GatewayPorts, options: Partial<GatewayOptions> = {}) {
    this.options = { ...defaultGatewayOptions, ...options };
    this.#ports = ports;
    this.#log = ports.log ?? ((line) => console.error(JSON.stringify(line)));
    this.observers = new ObserverHub([this.metrics, ...(ports.observers ?? [])]);
    this.#proxy = new Proxy(
      {
        upstream: ports.upstream,
        upstreamAuth: ports.upstreamAuth,
        lifecycle: ports.scheduling,
        pick: async (pool, request, exclude) => {
          const d = await ports.scheduling.pick(pool, { ...request, explain: false });
          return d.kind === 'route' ? [d.endpoint, ...d.fallbacks].find((e) => !exclude.has(e.id)) : undefined;
        },
        observer: this.observers,
      },
      this.options,
    );
  }

  /** Serve one OpenAI API request. Never throws: every failure is an OpenAI-shaped answer. */
  async answer(kind: RouteKind, request: InboundRequest, path: string): Promise<Answer> {
    const requestId = request.headers.get('x-request-id') || crypto.randomUUID();
    const observed = this.observers.open(kind, path, requestId, request.headers, this.options.now());
    try {
      const answer = await this.#answer(kind, request, path, requestId, observed);
      // A request that reached an endpoint is finished by the proxy, when its answer ends.
      if (observed.attempts === 0) this.#finished(observed, answer.status);
      return answer;
    } catch (err) {
      const known = err instanceof GatewayError ? err : isBodyTooLarge(err) ? payloadTooLarge(this.options.bodyLimit) : undefined;
      // The client went away (mid-body, say): nobody reads an answer, and it is not a bug to log.
      if (!known && request.signal.aborted) {
        this.#finished(observed, 499);
        return { status: 499, headers: {}, body: null };
      }
      const error = known ?? this.unexpected(err, requestId);
      this.#finished(observed, error.status, error.code);
      return errorAnswer(error, { 'x-request-id': requestId });
    }
  }

  #finished(observed: ObservedRequest, status: number, code?: string): void {
    if (observed.done) return;
    observed.status = status;
    observed.errorCode ??= code;
    this.observers.finished(observed);
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

  async #answer(kind: RouteKind, request: InboundRequest, path: string, requestId: string, observed: ObservedRequest): Promise<Answer> {
    const table = this.#ports.table.current;
    if (!table) {
      throw serviceUnavailable('No routes are configured on this gateway yet. Apply a routing table with "infergate apply -f manifests.yaml" (or start it with --manifests).', 'no_routes_configured');
    }
    // api: who is asking (when keys are checked), then the body, once, checked.
    const tenant = this.#ports.clients?.authenticate(request.headers.get('authorization')).tenant;
    const bytes = await request.body(this.options.bodyLimit);
    // A path an HTTPRoute names outside the OpenAI API: any body, passed on as it came (api/any-body.ts).
    const other = kind === 'other' ? readAnyBody(bytes) : undefined;
    const body = other ? other.json : parseJsonBody(bytes);
    const parsed = other ?? checkBody(kind as ApiKind, body!.value);
    // routing: host, path, method, headers → route → pool → target.
    const route = resolveRequest(table, path, request.headers, parsed.model, this.options.random, { method: request.method, search: request.search, api: kind !== 'other' });
    const explain = request.headers.get(EXPLAIN_HEADER) === '1';
    observed.clientExplain = explain;
    this.observers.resolved(observed, route, { bytes: bytes.byteLength, stream: parsed.stream });

    // scheduling: where it goes, or shed.
    const schedulingRequest: SchedulingRequest = {
      requestId,
      targetModel: route.targetModel,
      requestedModel: route.requestedModel,
      prompt: parsed.kind === 'other' ? parsed.prompt : promptText(parsed),
      // The structured messages, for precise prefix matching (the engine's own chat template, via /tokenize).
      ...(parsed.kind === 'chat' ? { messages: parsed.body.messages as ChatMessage[] } : {}),
      criticality: route.criticality,
      priority: route.priority,
      // Also explained when an observer asks (the dashboard, sampled); the header goes only to a client that asked.
      explain: explain || observed.explain,
      ...(tenant !== undefined ? { tenant } : {}),
      ...readFlowHeaders(request.headers),
      hints: route.hints,
    };

    // flow control (when on): wait while the pool is saturated, or be refused.
    const scheduling = this.#ports.scheduling;
    let admission: Admission | undefined;
    if (scheduling.admit) {
      const admitted = await scheduling.admit(route.pool, schedulingRequest, bytes.byteLength, request.signal);
      if ('refused' in admitted) return this.#refused(admitted.refused, observed, requestId);
      admission = admitted.admitted;
      if (admission.waitedMs > 0) this.observers.queued(observed, admission.waitedMs, 'pool saturated');
    }
    let decision;
    try {
      decision = await scheduling.pick(route.pool, schedulingRequest);
    } finally {
      admission?.started();
    }
    this.observers.decided(observed, decision);
    const decisionHeader: Record<string, string> = explain && decision.explain ? { [DECISION_HEADER]: headerSafeJson(decision.explain) } : {};
    if (admission && admission.waitedMs > 0) decisionHeader[QUEUE_DURATION_HEADER] = String(Math.round(admission.waitedMs));
    if (decision.kind === 'shed') {
      return errorAnswer(shed(`Pool "${route.pool.name}" is saturated and this request is sheddable (${decision.reason}). Retry after ${decision.retryAfterSeconds} s.`, decision.retryAfterSeconds), { ...decisionHeader, 'x-request-id': requestId });
    }
    if (decision.kind === 'unavailable') {
      return errorAnswer(serviceUnavailable(`No endpoint of pool "${route.pool.name}" can take this request: ${decision.reason}. Retry shortly; if it persists, check the pool's model servers.`, 'no_ready_endpoint', 1), { ...decisionHeader, 'x-request-id': requestId });
    }

    // proxy: forward with the target model, restore the asked-for name in the answer.
    const answer = await this.#proxy.forward({
      pool: route.pool,
      candidates: [decision.endpoint, ...decision.fallbacks],
      scheduling: schedulingRequest,
      request,
      path,
      // A body that is not JSON (a path outside the API) is passed on as it came.
      body: !body || !route.targetModel || parsed.body.model === route.targetModel ? bytes : withModel(body, route.targetModel),
      stream: parsed.stream,
      restoreModel: route.targetModel !== route.requestedModel ? { target: route.targetModel, requested: route.requestedModel } : undefined,
      continuation: kind === 'other' || !body ? undefined : continuationFor(kind, body.value, route.targetModel)?.body,
      extraHeaders: { ...decisionHeader, 'x-request-id': requestId },
      observed,
      ...(route.requestTimeoutMs ? { headersTimeoutMs: route.requestTimeoutMs } : {}),
    });
    const served = answer.headers[DESTINATION_HEADER];
    if (served) for (const h of decision.servedEndpointHeaders ?? []) answer.headers[h] = served;
    return answer;
  }

  /** A request flow control did not let through: 429 (limits, TTL, shed), 503 (no endpoints), 499 (the client left). */
  #refused(refusal: Refusal, observed: ObservedRequest, requestId: string): Answer {
    const pool = observed.pool!.name;
    observed.decisionReason = refusal.message;
    observed.end = refusal.kind === 'client-gone' ? 'client_gone' : refusal.kind === 'no-endpoints' ? 'unavailable' : 'shed';
    if (refusal.kind === 'shed') observed.decision = 'shed';
    if (refusal.kind === 'client-gone') return { status: 499, headers: {}, body: null };
    const headers = { 'x-request-id': requestId };
    if (refusal.kind === 'no-endpoints') {
      return errorAnswer(serviceUnavailable(`No endpoint of pool "${pool}" came up in time: ${refusal.message}. Retry shortly; if it persists, check the pool's model servers.`, 'no_ready_endpoint', refusal.retryAfterSeconds), headers);
    }
    const code = refusal.kind === 'shed' ? 'pool_saturated' : refusal.kind === 'queue-full' ? 'flow_control_queue_full' : 'flow_control_ttl_expired';
    observed.errorCode = code;
    return errorAnswer(new GatewayError({ status: 429, type: 'rate_limit_error', code, message: `${refusal.message}. Retry after ${refusal.retryAfterSeconds} s.`, headers: { 'retry-after': String(refusal.retryAfterSeconds) } }), headers);
  }

  /** `GET /v1/models`: what the pools' servers serve and the names the routing table adds, in OpenAI's list shape. */
  models(): Answer {
    const table = this.#ports.table.current;
    const served = table ? this.#ports.scheduling.servedModels?.([...table.pools.values()]) : undefined;
    const body = JSON.stringify(modelList(table, served ?? [], Math.floor((table ? this.options.now() : 0) / 1000)));
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
