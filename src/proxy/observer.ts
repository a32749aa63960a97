/**
 * The request observer: the one port through which metrics, traces, the
 * access log and the dashboard hear how each request goes. The director and
 * the proxy fill in one `ObservedRequest` as they learn things (the model, the
 * pool, the endpoint, the status, the usage) and call the observer at each
 * lifecycle point; every observer reads the same record. Times are
 * `performance.now()` milliseconds, stamped here, so the director and proxy
 * do no clock work of their own.
 */
import type { RouteKind } from '../api/any-body.ts';
import type { Endpoint } from '../endpoints/types.ts';
import type { InboundHeaders } from '../http/inbound.ts';
import type { Resolution } from '../routing/resolve.ts';
import type { Criticality, Pool } from '../routing/schema.ts';
import type { Outcome } from '../scheduling/endpoint-scheduling.ts';
import type { Decision } from '../scheduling/scheduler.ts';

/** Token counts from the answer's OpenAI `usage`. */
export interface TokenUsage {
  input: number;
  output: number;
  /** `prompt_tokens_details.cached_tokens`, when the server reports it. */
  cached?: number;
}

/** How the request ended, for the access log and the dashboard (a request that was answered: `served`). */
export type EndReason = 'served' | 'shed' | 'unavailable' | 'rejected' | 'upstream_failed' | 'client_gone' | 'error';

export class ObservedRequest {
  /** Wall clock at arrival, ms since epoch (for the access log's time). */
  readonly startedAtMs: number;
  /** performance.now() at arrival; every other time below is on this clock. */
  readonly receivedAt: number;
  resolvedAt = 0;
  queuedAt = 0;
  decidedAt = 0;
  firstTokenAt = 0;
  finishedAt = 0;

  /** Request body bytes as the client sent them. */
  requestBytes = 0;
  /** Answer body bytes the client received (as far as the gateway saw them). */
  responseBytes = 0;
  stream = false;

  /** The model the client asked for, and the one sent upstream (known once the request resolved). */
  model?: string;
  targetModel?: string;
  /**
   * The body's top-level `model` as sent (any JSON value), read before the body is checked or resolved: the access
   * log names the model of a request refused for either (a 400, a 404 model_not_found). Not a metrics label: names
   * nothing serves would crowd the bounded model label.
   */
  bodyModel?: unknown;
  /**
   * The matched HTTPRoute rule's path value (its PathPrefix or Exact path): the low-cardinality route template of a
   * path outside the OpenAI API (OTel's `http.route`), whose own path may carry ids.
   */
  route?: string;
  /** The InferenceObjective named by the request's header, if any. */
  objective?: string;
  priority?: number;
  criticality?: Criticality;
  pool?: Pool;
  /** The request's in-flight key (SchedulingRequest.key), set by the director: unique where requestId may not be. */
  key = '';
  /** Why the request waited in flow control (set by `queued`). */
  queuedReason?: string;

  decision?: Decision['kind'];
  /** Why it was shed or found no endpoint. */
  decisionReason?: string;
  /** The endpoint whose answer the client gets (the last one tried). */
  endpoint?: Endpoint;
  /** An endpoint answered (with any status). */
  answered = false;
  /** Endpoints tried (1 + retries). */
  attempts = 0;
  /** Status answered to the client (0 until known). */
  status = 0;
  /** The error's code when the gateway answered with one (`pool_saturated`, `upstream_timeout`…). */
  errorCode?: string;
  failure?: Outcome['failure'];
  usage?: TokenUsage;
  end?: EndReason;
  /** Who is asking (the API key's tenant, or the trusted tenant header). */
  tenant?: string;
  /** Owned by token budgets (src/budgets/budgets.ts): the reservation to settle. */
  budget?: unknown;
  /** Tokens the tenant's budget was finally charged. */
  chargedTokens?: number;
  /** The TokenBudget limit that refused the request, if one did. */
  budgetLimit?: 'tokens' | 'requests';

  /** The client asked for the decision's explanation (x-infergate-explain: 1). */
  clientExplain = false;
  /** An observer wants the decision explained (the dashboard, while a page is open). */
  explain = false;
  /** The scheduler's explanation, when one was computed. */
  explanation?: Record<string, unknown>;

  /** The W3C trace id this request belongs to (the gateway's span's, or the client's traceparent's). */
  traceId?: string;
  /** Owned by the tracing observer. */
  trace?: unknown;
  /** Owned by the metrics observer (src/gateway/metrics.ts): the request's series while it runs. */
  series?: unknown;
  done = false;

  constructor(
    readonly kind: RouteKind,
    readonly path: string,
    readonly requestId: string,
    readonly headers: InboundHeaders,
    startedAtMs: number,
    receivedAt: number,
    /** The request's method as the client sent it (the OpenAI API's routes are POST; an HTTPRoute's path may take any). */
    readonly method = 'POST',
  ) {
    this.startedAtMs = startedAtMs;
    this.receivedAt = receivedAt;
  }
}

/** Each method is optional; an observer implements the points it needs. Observers never throw. */
export interface RequestObserver {
  received?(r: ObservedRequest): void;
  /** Model, pool, target and priority are known. May set `r.explain` to ask for the decision's explanation. */
  resolved?(r: ObservedRequest): void;
  /** The request waited in flow control from `r.queuedAt` (`r.queuedReason` says why); `decided` follows. */
  queued?(r: ObservedRequest): void;
  /** The scheduler decided (`r.decision`, and `r.endpoint` for a route). */
  decided?(r: ObservedRequest, decision: Decision): void;
  /** An attempt on `endpoint` is about to be sent; `headers` are the upstream request's (an observer may add trace context). */
  attempt?(r: ObservedRequest, endpoint: Endpoint, headers: Record<string, string>): void;
  /** That attempt got no answer (`failure`); another endpoint may be tried next. */
  attemptFailed?(r: ObservedRequest, endpoint: Endpoint, failure: NonNullable<Outcome['failure']> | 'invalid' | 'unsupported'): void;
  /** The request is sent again, to another endpoint, after `endpoint`'s answer (a status) or failure (`connect-failure`). */
  retried?(r: ObservedRequest, endpoint: Endpoint, reason: string): void;
  /** The endpoint answered with `r.status`. */
  responded?(r: ObservedRequest, endpoint: Endpoint): void;
  /**
   * An attempt to continue a broken stream on `endpoint` got nothing it could pass on: a failure
   * (as `attemptFailed`'s) or its answer's status (an answer that was not a 200 event stream). The
   * request's own outcome is unchanged; another endpoint may be tried next, then `resumed` follows.
   */
  resumeFailed?(r: ObservedRequest, endpoint: Endpoint, reason: NonNullable<Outcome['failure']> | 'invalid' | 'unsupported' | number): void;
  /** A streamed answer broken off by its pod was continued on another (`ok`), or ended with an SSE error event. */
  resumed?(r: ObservedRequest, ok: boolean): void;
  /** The first byte of a streamed answer. */
  firstToken?(r: ObservedRequest): void;
  /** The request is over, however it ended (once). */
  finished?(r: ObservedRequest): void;
}

type Point = Exclude<keyof RequestObserver, never>;

/**
 * Several observers as one, stamping the times on the record. With no
 * observer each call is a property test and a return.
 */
export class ObserverHub implements Required<RequestObserver> {
  readonly #all: RequestObserver[] = [];
  readonly #by = new Map<Point, RequestObserver[]>();
  readonly #clock: () => number;

  constructor(observers: readonly RequestObserver[] = [], clock: () => number = () => performance.now()) {
    this.#clock = clock;
    for (const o of observers) this.add(o);
  }

  add(observer: RequestObserver): void {
    this.#all.push(observer);
    for (const point of POINTS) {
      if (typeof observer[point] !== 'function') continue;
      let list = this.#by.get(point);
      if (!list) this.#by.set(point, (list = []));
      list.push(observer);
    }
  }

  now(): number {
    return this.#clock();
  }

  /** A record for a request that just arrived. */
  open(kind: RouteKind, path: string, requestId: string, headers: InboundHeaders, startedAtMs: number, method?: string): ObservedRequest {
    const r = new ObservedRequest(kind, path, requestId, headers, startedAtMs, this.#clock(), method);
    this.received(r);
    return r;
  }

  received(r: ObservedRequest): void {
    for (const o of this.#by.get('received') ?? NONE) o.received!(r);
  }
  /** The request was read (`bytes` long, streamed or not) and resolved to `route`. */
  resolved(r: ObservedRequest, route?: Resolution, body?: { bytes: number; stream: boolean }): void {
    r.resolvedAt = this.#clock();
    if (body) {
      r.requestBytes = body.bytes;
      r.stream = body.stream;
    }
    if (route) {
      r.model = route.requestedModel;
      r.targetModel = route.targetModel;
      r.pool = route.pool;
      r.priority = route.priority;
      r.criticality = route.criticality;
      r.objective = route.objective?.name;
      r.route = route.matchedPath;
    }
    for (const o of this.#by.get('resolved') ?? NONE) o.resolved!(r);
  }
  /** The request waited in flow control `waitedMs` (told once it leaves the queue), because of `reason`. */
  queued(r: ObservedRequest, waitedMs = 0, reason?: string): void {
    r.queuedAt = this.#clock() - waitedMs;
    if (reason !== undefined) r.queuedReason = reason;
    for (const o of this.#by.get('queued') ?? NONE) o.queued!(r);
  }
  decided(r: ObservedRequest, decision: Decision): void {
    r.decidedAt = this.#clock();
    r.decision = decision.kind;
    if (decision.kind === 'route') r.endpoint = decision.endpoint;
    else r.decisionReason = decision.reason;
    if (decision.explain) r.explanation = decision.explain;
    for (const o of this.#by.get('decided') ?? NONE) o.decided!(r, decision);
  }
  attempt(r: ObservedRequest, endpoint: Endpoint, headers: Record<string, string>): void {
    r.attempts++;
    r.endpoint = endpoint;
    for (const o of this.#by.get('attempt') ?? NONE) o.attempt!(r, endpoint, headers);
  }
  attemptFailed(r: ObservedRequest, endpoint: Endpoint, failure: NonNullable<Outcome['failure']> | 'invalid' | 'unsupported'): void {
    if (failure !== 'invalid' && failure !== 'unsupported') r.failure = failure;
    for (const o of this.#by.get('attemptFailed') ?? NONE) o.attemptFailed!(r, endpoint, failure);
  }
  retried(r: ObservedRequest, endpoint: Endpoint, reason: string): void {
    for (const o of this.#by.get('retried') ?? NONE) o.retried!(r, endpoint, reason);
  }
  resumeFailed(r: ObservedRequest, endpoint: Endpoint, reason: NonNullable<Outcome['failure']> | 'invalid' | 'unsupported' | number): void {
    for (const o of this.#by.get('resumeFailed') ?? NONE) o.resumeFailed!(r, endpoint, reason);
  }
  resumed(r: ObservedRequest, ok: boolean): void {
    for (const o of this.#by.get('resumed') ?? NONE) o.resumed!(r, ok);
  }
  responded(r: ObservedRequest, endpoint: Endpoint): void {
    r.answered = true;
    for (const o of this.#by.get('responded') ?? NONE) o.responded!(r, endpoint);
  }
  firstToken(r: ObservedRequest): void {
    if (r.firstTokenAt) return;
    r.firstTokenAt = this.#clock();
    for (const o of this.#by.get('firstToken') ?? NONE) o.firstToken!(r);
  }
  finished(r: ObservedRequest): void {
    if (r.done) return;
    r.done = true;
    r.finishedAt = this.#clock();
    r.end ??= endReason(r);
    for (const o of this.#by.get('finished') ?? NONE) o.finished!(r);
  }
}

const NONE: readonly RequestObserver[] = [];
const POINTS: readonly Point[] = ['received', 'resolved', 'queued', 'decided', 'attempt', 'attemptFailed', 'retried', 'responded', 'resumeFailed', 'resumed', 'firstToken', 'finished'];

function endReason(r: ObservedRequest): EndReason {
  if (r.decision === 'shed') return 'shed';
  if (r.decision === 'unavailable') return 'unavailable';
  if (r.status === 499 || r.failure === 'aborted') return 'client_gone';
  if (r.answered) return r.failure === 'broken' ? 'upstream_failed' : 'served';
  if (r.attempts > 0) return 'upstream_failed';
  return r.status === 0 || r.status >= 500 ? 'error' : 'rejected';
}
