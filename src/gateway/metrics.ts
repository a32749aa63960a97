/**
 * The gateway's own Prometheus metrics, recorded by a request observer: the
 * Inference Extension's names and labels (GIE v1 / llm-d's legacy series, the
 * ones GIE users' boards and alerts use: docs/observability.md lists them and
 * their llm-d successors) plus infergate's own. Everything here is per
 * process and adds up across `--workers` processes: counters, histograms, and
 * the running-requests gauge. Pool gauges and `inference_extension_info` are
 * read from the endpoint source once per scrape (./pool-metrics.ts), so a
 * cluster renders them once, in the primary.
 */
import type { ObservedRequest, RequestObserver } from '../proxy/observer.ts';
import { BoundedLabel, BUCKETS, Registry, type Sample } from '../observability/exposition.ts';
import type { Histogram } from '../observability/histogram.ts';
import { REQUEST_BUCKETS, TTFT_BUCKETS } from '../observability/histogram.ts';
import type { Decision } from '../scheduling/scheduler.ts';
import { FlowControlMetrics, type FlowEvent, type QueuedNow, type Reserves } from './flow-control-metrics.ts';

/** GIE's error codes (errutil), as `error_code` label values. */
export function errorCode(r: ObservedRequest): string {
  if (r.decision === 'shed') return 'InferencePoolResourceExhausted';
  if (r.decision === 'unavailable') return 'ServiceUnavailable';
  const s = r.status;
  if (s === 404) return 'BadConfiguration';
  if (s === 429) return 'InferencePoolResourceExhausted';
  if (s >= 400 && s < 500) return 'BadRequest';
  if (r.answered || r.attempts > 0) return 'ModelServerError';
  if (s === 503) return 'ServiceUnavailable';
  return 'Internal';
}

/** The series of one (model_name, target_model_name) pair, looked up once per request. */
interface ModelSeries {
  errors: Map<string, Sample>;
  requests: Map<number, Sample>;
  duration: Histogram;
  ttft: Histogram;
  requestSizes: Histogram;
  responseSizes: Histogram;
  inputTokens: Histogram;
  outputTokens: Histogram;
  cachedTokens: Histogram;
  ntpot: Histogram;
  running: Sample;
}

const M = ['model_name', 'target_model_name'] as const;

export class GatewayMetrics implements RequestObserver {
  readonly registry = new Registry();
  readonly #modelLabel = new BoundedLabel();
  readonly #tenantLabel = new BoundedLabel();
  readonly #byModel = new Map<string, ModelSeries>();
  readonly #byPool = new Map<string, { requests: Map<string, Map<number, Sample>>; duration: Histogram; ttft: Histogram; refused: Sample; shed: Sample; retries: Map<string, Sample> }>();

  readonly #f = (() => {
    const r = this.registry;
    return {
      requests: r.counter('inference_objective_request_total', 'Requests per model, target model and priority.', [...M, 'priority']),
      errors: r.counter('inference_objective_request_error_total', 'Requests that failed, per model, target model and GIE error code.', [...M, 'error_code']),
      duration: r.histogram('inference_objective_request_duration_seconds', 'Time from the request to the end of its answer, answered requests.', M, BUCKETS.generalLatency),
      ttft: r.histogram('inference_objective_request_ttft_seconds', 'Time from the request to the first byte of a streamed answer.', M, BUCKETS.generalLatency),
      requestSizes: r.histogram('inference_objective_request_sizes', 'Request body size, bytes.', M, BUCKETS.requestSizes),
      responseSizes: r.histogram('inference_objective_response_sizes', 'Answer body size, bytes.', M, BUCKETS.responseSizes),
      inputTokens: r.histogram('inference_objective_input_tokens', "Prompt tokens, from the answer's usage.", M, BUCKETS.inputTokens),
      outputTokens: r.histogram('inference_objective_output_tokens', "Completion tokens, from the answer's usage.", M, BUCKETS.outputTokens),
      cachedTokens: r.histogram('inference_objective_prompt_cached_tokens', "Prompt tokens served from the prefix cache (usage.prompt_tokens_details.cached_tokens).", M, BUCKETS.inputTokens),
      running: r.gauge('inference_objective_running_requests', 'Requests being served, per model.', ['model_name']),
      ntpot: r.histogram('inference_objective_normalized_time_per_output_token_seconds', 'Request duration divided by its completion tokens.', M, BUCKETS.normalizedTpot),
      schedulerE2e: r.histogram('inference_extension_scheduler_e2e_duration_seconds', 'Time to decide where a request goes (admission, filters, scorers, pick).', [], BUCKETS.scheduler),
      attempts: r.counter('inference_extension_scheduler_attempts_total', 'Scheduling decisions: success with the endpoint picked, or failure (shed, no endpoint).', ['status', 'target_model_name', 'pod_name', 'namespace', 'port']),
      ownRequests: r.counter('infergate_requests_total', 'Requests answered, by pool, requested model and HTTP status.', ['pool', 'model', 'code']),
      ownDuration: r.histogram('infergate_request_duration_seconds', 'Time from request to the end of the answer, by pool.', ['pool'], REQUEST_BUCKETS),
      ownTtft: r.histogram('infergate_time_to_first_token_seconds', 'Time from request to the first streamed byte of the answer, by pool.', ['pool'], TTFT_BUCKETS),
      refused: r.counter('infergate_upstream_refused_total', 'Attempts on an endpoint that refused or reset the connection (then retried elsewhere).', ['pool']),
      retries: r.counter('infergate_retries_total', 'Requests sent again to another endpoint before the first byte of the answer, by pool and why (an upstream status, or connect-failure).', ['pool', 'reason']),
      breaks: r.counter('infergate_stream_breaks_total', 'Streamed answers broken off by their pod, by pool and outcome: resumed on another pod, or ended with an SSE error event.', ['pool', 'outcome']),
      shed: r.counter('infergate_shed_total', 'Sheddable requests refused with 429 because the pool was saturated.', ['pool']),
      budgetCharged: r.counter('infergate_token_budget_charged_tokens_total', "Tokens charged to tenants' TokenBudgets (usage, or the reservation of an answer without usage).", ['tenant']),
      budgetRejections: r.counter('infergate_token_budget_rejections_total', 'Requests refused with 429 before any pod, because the tenant was over its TokenBudget: tokens per minute, or requests in flight.', ['tenant', 'limit']),
      ejections: r.counter('infergate_outlier_ejections_total', 'Endpoints taken out of rotation by passive health (outlier detection), by why: connect-failure, consecutive-5xx, retry-after, failure-percentage.', ['reason']),
    };
  })();

  readonly #schedulerE2e = this.#f.schedulerE2e.labels();
  /** Scheduler-attempt series by target model, then endpoint id. */
  readonly #attempts = new Map<string, Map<string, Sample>>();
  #attemptPairs = 0;

  /** Flow control's metrics, once there is flow control (see `observeFlowControl`). */
  flowControl?: FlowControlMetrics;

  /** Count flow control's outcomes and queue sizes on this page. */
  observeFlowControl(controller: QueuedNow & { onEvent?: (e: FlowEvent) => void }, isolation?: Reserves): void {
    const metrics = (this.flowControl = new FlowControlMetrics(this.registry, controller, isolation));
    controller.onEvent = (e) => metrics.event(e);
  }

  /** Read passive health's ejection counts (by reason) at each scrape. */
  countEjections(counts: ReadonlyMap<string, number>): void {
    this.registry.collect(() => {
      for (const [reason, n] of counts) this.#f.ejections.labels(reason).value = n;
    });
  }

  /** Shed answers per pool come from `finished`; families other modules record into are registered on `registry`. */
  resolved(r: ObservedRequest): void {
    if (r.model === undefined) return;
    const m = this.#model(r);
    m.requestSizes.observe(r.requestBytes);
    m.running.value++;
    // Counted as running, with its series: `finished` takes back only what this added, and looks nothing up again.
    r.series = m;
  }

  decided(r: ObservedRequest, decision: Decision): void {
    if (r.resolvedAt) this.#schedulerE2e.observe((r.decidedAt - r.resolvedAt) / 1000);
    const endpoint = decision.kind === 'route' ? decision.endpoint : undefined;
    const targetModel = r.targetModel ?? '';
    const id = endpoint?.id ?? '';
    let byEndpoint = this.#attempts.get(targetModel);
    let attempts = byEndpoint?.get(id);
    if (!attempts) {
      const target = this.#modelLabel.value(targetModel);
      attempts = endpoint ? this.#f.attempts.labels('success', target, endpoint.address, '', String(endpoint.port)) : this.#f.attempts.labels('failure', target, '', '', '');
      // Bounded like the labels: past the cap the pairs share `other`'s series, looked up each time (no map grows).
      if (this.#attemptPairs < 10_000) {
        if (!byEndpoint) this.#attempts.set(targetModel, (byEndpoint = new Map()));
        byEndpoint.set(id, attempts);
        this.#attemptPairs++;
      }
    }
    attempts.value++;
  }

  attemptFailed(r: ObservedRequest, _endpoint: unknown, failure: string): void {
    if (failure === 'connect' && r.pool) this.#pool(r.pool.name).refused.value++;
  }

  /** A refused connection while continuing a broken stream is one of the pool's refusals too. */
  resumeFailed(r: ObservedRequest, _endpoint: unknown, reason: string | number): void {
    if (reason === 'connect' && r.pool) this.#pool(r.pool.name).refused.value++;
  }

  retried(r: ObservedRequest, _endpoint: unknown, reason: string): void {
    const pool = this.#pool(r.pool?.name ?? '');
    let s = pool.retries.get(reason);
    if (!s) pool.retries.set(reason, (s = this.#f.retries.labels(r.pool?.name ?? '', reason)));
    s.value++;
  }

  resumed(r: ObservedRequest, ok: boolean): void {
    this.#f.breaks.labels(r.pool?.name ?? '', ok ? 'resumed' : 'error_event').value++;
  }

  finished(r: ObservedRequest): void {
    const poolName = r.pool?.name ?? '';
    const pool = this.#pool(poolName);
    const code = r.status || 502;
    const model = this.#modelLabel.value(r.model ?? '');
    let byModel = pool.requests.get(model);
    if (!byModel) pool.requests.set(model, (byModel = new Map()));
    let byCode = byModel.get(code);
    if (!byCode) byModel.set(code, (byCode = this.#f.ownRequests.labels(poolName, model, String(code))));
    byCode.value++;
    if (r.decision === 'shed') pool.shed.value++;
    if (r.tenant !== undefined) {
      if (r.chargedTokens) this.#f.budgetCharged.labels(this.#tenantLabel.value(r.tenant)).value += r.chargedTokens;
      if (r.budgetLimit) this.#f.budgetRejections.labels(this.#tenantLabel.value(r.tenant), r.budgetLimit).value++;
    }

    const running = r.series as ModelSeries | undefined;
    const m = running ?? this.#model(r);
    if (running) {
      m.running.value--;
      r.series = undefined;
      let counted = m.requests.get(r.priority ?? 0);
      if (!counted) m.requests.set(r.priority ?? 0, (counted = this.#f.requests.labels(this.#modelLabel.value(r.model ?? ''), this.#modelLabel.value(r.targetModel ?? ''), String(r.priority ?? 0))));
      counted.value++;
    }
    const seconds = (r.finishedAt - r.receivedAt) / 1000;
    if (r.end === 'served' && r.status < 400) {
      m.duration.observe(seconds);
      m.responseSizes.observe(r.responseBytes);
      pool.duration.observe(seconds);
      const u = r.usage;
      if (u) {
        m.inputTokens.observe(u.input);
        m.outputTokens.observe(u.output);
        if (u.cached !== undefined) m.cachedTokens.observe(u.cached);
        if (u.output > 0) m.ntpot.observe(seconds / u.output);
      }
    } else if (r.end !== 'client_gone') {
      const code = errorCode(r);
      let e = m.errors.get(code);
      if (!e) m.errors.set(code, (e = this.#f.errors.labels(this.#modelLabel.value(r.model ?? ''), this.#modelLabel.value(r.targetModel ?? ''), code)));
      e.value++;
    }
    if (r.firstTokenAt) {
      const ttft = (r.firstTokenAt - r.receivedAt) / 1000;
      m.ttft.observe(ttft);
      pool.ttft.observe(ttft);
    }
  }

  /** Prometheus text exposition (version 0.0.4) of this process's series. */
  render(): string {
    return this.registry.render();
  }

  #model(r: ObservedRequest): ModelSeries {
    const key = `${r.model ?? ''}\u0000${r.targetModel ?? ''}`;
    let m = this.#byModel.get(key);
    if (!m) {
      const f = this.#f;
      const labels = [this.#modelLabel.value(r.model ?? ''), this.#modelLabel.value(r.targetModel ?? '')] as const;
      m = {
        errors: new Map(),
        requests: new Map(),
        duration: f.duration.labels(...labels),
        ttft: f.ttft.labels(...labels),
        requestSizes: f.requestSizes.labels(...labels),
        responseSizes: f.responseSizes.labels(...labels),
        inputTokens: f.inputTokens.labels(...labels),
        outputTokens: f.outputTokens.labels(...labels),
        cachedTokens: f.cachedTokens.labels(...labels),
        ntpot: f.ntpot.labels(...labels),
        running: f.running.labels(labels[0]),
      };
      // Past the label cap, every new pair shares `other`'s series: keep the map bounded too.
      if (this.#byModel.size < 4 * 1000) this.#byModel.set(key, m);
    }
    return m;
  }

  #pool(name: string) {
    let p = this.#byPool.get(name);
    if (!p) {
      const f = this.#f;
      p = { requests: new Map(), duration: f.ownDuration.labels(name), ttft: f.ownTtft.labels(name), refused: f.refused.labels(name), shed: f.shed.labels(name), retries: new Map() };
      this.#byPool.set(name, p);
    }
    return p;
  }
}
