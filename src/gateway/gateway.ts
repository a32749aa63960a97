/**
 * The director: one request, step by step, in one direction — the API layer
 * reads and checks the body, routing resolves model → pool → target,
 * scheduling picks an endpoint (or sheds), the proxy forwards and streams the
 * answer back. It holds ports (the routing table, the scheduling port, the
 * upstream client, a log), not the things behind them, so the same director
 * runs on Node, Deno and Workers.
 */
import { parseJsonBody, withModel } from '../api/body.ts';
import { badRequest, errorAnswer, GatewayError, internalError, payloadTooLarge, serviceUnavailable, shed } from '../api/errors.ts';
import { checkBody, promptText, type ApiKind } from '../api/openai.ts';
import { readAnyBody, type RouteKind } from '../api/any-body.ts';
import { continuationFor } from '../api/continuation.ts';
import { TokenBudgets } from '../budgets/budgets.ts';
import { MemoryBudgetStore } from '../budgets/store.ts';
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
import type { ChatMessage, Decision, SchedulingRequest } from '../scheduling/scheduler.ts';
import { addHashingFields } from '../tokenize/request-fields.ts';
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
  /**
   * A header trusted to name the request's tenant (for token budgets and
   * flow-control fairness), set by a proxy in front that authenticates
   * clients; it wins over the API key's tenant. Unset: only API keys name tenants.
   */
  tenantHeader?: string;
  /**
   * Whether a client's `x-infergate-explain: 1` gets the decision back in `x-infergate-decision` — the
   * candidates' addresses, scores and metrics' age. Off where clients should not see the pods; the dashboard's
   * sampled explanations (admin port) are not affected.
   */
  explainHeader: boolean;
}

export const defaultGatewayOptions: GatewayOptions = {
  bodyLimit: 8 * 1024 * 1024,
  upstreamTimeoutMs: 300_000,
  maxAttempts: 3,
  random: Math.random,
  now: Date.now,
  explainHeader: true,
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
  /** Token budgets and where they are kept (default: in this process, for the table's TokenBudgets). */
  budgets?: TokenBudgets;
}

/**
 * Each request's in-flight key (SchedulingRequest.key): this gateway's own, as clients may repeat an
 * x-request-id. A random prefix keeps two isolates or processes that report to one place (a Workers pool's
 * Durable Object) apart — drawn at the first request, as Workers allow no random values at load — and a
 * counter keeps it short.
 */
let keyPrefix: string | undefined;
let keys = 0;
export function newRequestKey(): string {
  keyPrefix ??= crypto.randomUUID().slice(0, 8);
  return `${keyPrefix}${(++keys).toString(36)}`;
}

export const EXPLAIN_HEADER = 'x-infergate-explain';
export const DECISION_HEADER = 'x-infergate-decision';
/** Sizes the error bodies the gateway writes (the access log's responseBytes). */
const utf8 = new TextEncoder();

export class Gateway {
  readonly options: GatewayOptions;
  readonly metrics = new GatewayMetrics();
  /** Every request's lifecycle goes here (src/proxy/observer.ts); more observers may be added after construction. */
  readonly observers: ObserverHub;
  readonly #ports: GatewayPorts;
  readonly #proxy: Proxy;
  readonly #log: (line: Record<string, unknown>) => void;
  readonly budgets: TokenBudgets;

  constructor(ports: GatewayPorts, options: Partial<GatewayOptions> = {}) {
    this.options = { ...defaultGatewayOptions, ...options };
    this.#ports = ports;
    this.#log = ports.log ?? ((line) => console.error(JSON.stringify(line)));
    this.budgets = ports.budgets ?? new TokenBudgets(new MemoryBudgetStore(this.options.now), { log: this.#log });
    // Budgets settle before the other observers hear the end (the access log reports the tokens charged).
    this.observers = new ObserverHub([this.budgets, this.metrics, ...(ports.observers ?? [])]);
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
    const observed = this.observers.open(kind, path, requestId, request.headers, this.options.now(), request.method);
    observed.key = request.key ?? newRequestKey();
    try {
      const answer = await this.#answer(kind, request, path, requestId, observed);
      // A request that reached an endpoint is finished by the proxy, when its answer ends.
      if (observed.attempts === 0) this.#finished(observed, answer.status, undefined, answer.body);
      return answer;
    } catch (err) {
      const tooLarge = isBodyTooLarge(err);
      // A body refused for its size was not read: the access log gets what it declared (a chunked one, which
      // declared nothing, at least the limit it passed).
      if (tooLarge && observed.requestBytes === 0) observed.requestBytes = declaredLength(request.headers.get('content-length')) ?? this.options.bodyLimit + 1;
      const known = err instanceof GatewayError ? err : tooLarge ? payloadTooLarge(this.options.bodyLimit) : undefined;
      // The client went away (mid-body, say): nobody reads an answer, and it is not a bug to log.
      if (!known && request.signal.aborted) {
        this.#finished(observed, 499);
        return { status: 499, headers: {}, body: null };
      }
      const error = known ?? this.unexpected(err, requestId);
      const answer = errorAnswer(error, { 'x-request-id': requestId });
      this.#finished(observed, error.status, error.code, answer.body);
      return answer;
    }
  }

  /** The end of a request the gateway answered itself (`body`: what it wrote, an error's JSON). */
  #finished(observed: ObservedRequest, status: number, code?: string, body?: Answer['body']): void {
    if (observed.done) return;
    observed.status = status;
    observed.errorCode ??= code;
    if (typeof body === 'string') observed.responseBytes = utf8.encode(body).byteLength;
    else if (body instanceof Uint8Array) observed.responseBytes = body.byteLength;
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
    // api: who is asking (when keys are checked, or a trusted header says), then the body, once, checked.
    const tenant = this.#tenant(request);
    observed.tenant = tenant;
    const bytes = await request.body(this.options.bodyLimit);
    // Recorded before anything can refuse the body (a 400, a 404 model_not_found): the access log reports both.
    observed.requestBytes = bytes.byteLength;
    // A path an HTTPRoute names outside the OpenAI API: any body, passed on as it came (api/any-body.ts).
    const other = kind === 'other' ? readAnyBody(bytes) : undefined;
    const body = other ? other.json : parseJsonBody(bytes);
    observed.bodyModel = body?.value.model;
    const parsed = other ?? checkBody(kind as ApiKind, body!.value);
    // routing: host, path, method, headers → route → pool → target.
    const route = resolveRequest(table, path, request.headers, parsed.model, this.options.random, { method: request.method, search: request.search, api: kind !== 'other' });
    const explain = this.options.explainHeader !== false && request.headers.get(EXPLAIN_HEADER) === '1';
    observed.clientExplain = explain;
    this.observers.resolved(observed, route, { bytes: bytes.byteLength, stream: parsed.stream });

    // scheduling: where it goes, or shed.
    const schedulingRequest: SchedulingRequest = {
      requestId,
      key: observed.key,
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
    // What else the engine hashes into the prompt's blocks (tools the template renders, cache_salt): precise prefix matching.
    if (parsed.kind !== 'other') addHashingFields(schedulingRequest, parsed.kind, parsed.body);

    // budgets: the tenant's budget is charged what the request may cost before it waits or is sent (src/budgets/).
    let budgetHeaders: Record<string, string> | undefined;
    const budget = tenant !== undefined && table.budgets.size > 0 ? TokenBudgets.budgetFor(table.budgets, tenant) : undefined;
    if (budget && parsed.kind !== 'other') {
      const check = await this.budgets.reserve(budget, tenant!, parsed);
      if ('refused' in check) {
        observed.end = 'rejected';
        observed.errorCode = check.refused.code;
        if (check.refused.status === 429) observed.budgetLimit = check.refused.type === 'requests' ? 'requests' : 'tokens';
        return errorAnswer(check.refused, { 'x-request-id': requestId });
      }
      observed.budget = check.charge;
      budgetHeaders = check.headers;
    }

    // flow control (when on): wait while the pool is saturated, or be refused.
    const scheduling = this.#ports.scheduling;
    let admission: Admission | undefined;
    if (scheduling.admit) {
      // Awaited only when it waits: an idle pool's admission is synchronous, and an await would cost a turn.
      const result = scheduling.admit(route.pool, schedulingRequest, bytes.byteLength, request.signal);
      const admitted = result instanceof Promise ? await result : result;
      if ('refused' in admitted) return this.#refused(admitted.refused, observed, requestId);
      admission = admitted.admitted;
      if (admission.waitedMs > 0) this.observers.queued(observed, admission.waitedMs, 'pool saturated');
    }
    // A request that waited may have waited through a new routing table: it is scheduled on its pool as the table
    // has it now, the one flow control judged it by (infergate's choice: llm-d's director keeps the candidate pods
    // it listed before the wait).
    const pool = admission && admission.waitedMs > 0 ? (this.#ports.table.current?.pools.get(route.pool.name) ?? route.pool) : route.pool;
    let decision: Decision | undefined;
    try {
      const picked = scheduling.pick(pool, schedulingRequest);
      decision = picked instanceof Promise ? await picked : picked;
    } finally {
      // Not sent to a pod (shed, unavailable, or pick failed): the room it held in flow control frees now.
      admission?.started(decision?.kind === 'route');
    }
    this.observers.decided(observed, decision);
    const decisionHeader: Record<string, string> = { ...budgetHeaders };
    if (explain && decision.explain) decisionHeader[DECISION_HEADER] = headerSafeJson(decision.explain);
    if (admission && admission.waitedMs > 0) decisionHeader[QUEUE_DURATION_HEADER] = String(Math.round(admission.waitedMs));
    if (decision.kind === 'shed') {
      const error = shed(`Pool "${pool.name}" is saturated and this request is sheddable (${decision.reason}). Retry after ${decision.retryAfterSeconds} s.`, decision.retryAfterSeconds);
      observed.errorCode = error.code;
      return errorAnswer(error, { ...decisionHeader, 'x-request-id': requestId });
    }
    if (decision.kind === 'unavailable') {
      const error = serviceUnavailable(`No endpoint of pool "${pool.name}" can take this request: ${decision.reason}. Retry shortly; if it persists, check the pool's model servers.`, 'no_ready_endpoint', 1);
      observed.errorCode = error.code;
      return errorAnswer(error, { ...decisionHeader, 'x-request-id': requestId });
    }

    // proxy: forward with the target model, restore the asked-for name in the answer.
    const restoreModel = route.targetModel !== route.requestedModel ? { target: route.targetModel, requested: route.requestedModel } : undefined;
    const answer = await this.#proxy.forward({
      pool,
      candidates: [decision.endpoint, ...decision.fallbacks],
      scheduling: schedulingRequest,
      request,
      path,
      // A body that is not JSON (a path outside the API) is passed on as it came.
      body: !body || !route.targetModel || parsed.body.model === route.targetModel ? bytes : withModel(body, route.targetModel),
      stream: parsed.stream,
      restoreModel,
      // An API answer's usage is read (the budget's charge, token metrics, the access log), and a renamed model restored.
      readsAnswer: kind !== 'other' || restoreModel !== undefined,
      continuation: kind === 'other' || !body ? undefined : continuationFor(kind, body.value, route.targetModel)?.body,
      extraHeaders: { ...decisionHeader, 'x-request-id': requestId },
      observed,
      ...(route.requestTimeoutMs ? { headersTimeoutMs: route.requestTimeoutMs } : {}),
    });
    const served = answer.headers[DESTINATION_HEADER];
    if (served) for (const h of decision.servedEndpointHeaders ?? []) answer.headers[h] = served;
    return answer;
  }

  /** The request's tenant: the trusted header's, else the API key's (which is checked whenever keys are). */
  #tenant(request: InboundRequest): string | undefined {
    const keyed = this.#ports.clients?.authenticate(request.headers.get('authorization')).tenant;
    const name = this.options.tenantHeader;
    const given = name ? request.headers.get(name)?.trim() : undefined;
    if (!given) return keyed;
    if (given.length > 253) throw badRequest(`The ${name} header is longer than 253 characters.`, 'invalid_header', name!);
    return given;
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
      observed.errorCode = 'no_ready_endpoint';
      return errorAnswer(serviceUnavailable(`No endpoint of pool "${pool}" came up in time: ${refusal.message}. Retry shortly; if it persists, check the pool's model servers.`, observed.errorCode, refusal.retryAfterSeconds), headers);
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

/** A content-length's value as a number of bytes; undefined when there is none or it is not plain digits. */
function declaredLength(value: string | null): number | undefined {
  return value !== null && /^\d{1,15}$/.test(value.trim()) ? Number(value.trim()) : undefined;
}

/** JSON for a header value: HTTP field values must be ASCII (JSON.stringify already escapes control characters). */
export function headerSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}
