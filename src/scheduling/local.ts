/**
 * Scheduling in this process: the endpoint picker over the endpoint source's
 * current snapshot of the pool, with endpoints that keep failing taken out
 * for a while (passive health). The Node and Deno gateways use it; Workers
 * decide in the pool's Durable Object instead (src/runtime/workers/).
 */
import type { Endpoint, EndpointSource } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import type { EndpointScheduling, Outcome, Readiness } from './endpoint-scheduling.ts';
import { OutlierDetector, type OutlierOptions, type OutlierOutcome } from './outliers.ts';
import { FlowAdmission, type AdmissionOptions, type ViewChanges } from './admission.ts';
import type { AdmitResult } from '../flowcontrol/controller.ts';
import type { ClientSignalLike } from './endpoint-scheduling.ts';
import type { Decision, Scheduler, SchedulingRequest } from './scheduler.ts';
import { restrictToSubset } from './subset.ts';
import { servedModelsOf, type ServedModelEntry } from './served-models.ts';

export interface LocalSchedulingOptions {
  /** Metrics older than this are stale (the picker's and the readiness probe's horizon), ms. */
  staleAfterMs: number;
  now: () => number;
  outliers?: Partial<OutlierOptions>;
  /** Flow control (llm-d's flowControl feature gate): requests wait in the gateway while their pool is saturated. */
  flowControl?: Omit<AdmissionOptions, 'now'>;
}

/** What passive health counts: a refused connection, a status (a timeout as 504, a cut-off answer as 502), or success. */
function outlierOutcome(o: Outcome): OutlierOutcome {
  if (o.failure === 'connect') return { kind: 'connect-failure' };
  if (o.failure === 'timeout') return { kind: 'status', status: 504 };
  if (o.failure === 'broken') return { kind: 'status', status: 502 };
  if (o.failure === 'aborted' || o.status === 0) return { kind: 'success' };
  if (o.status >= 500 || o.status === 429) return { kind: 'status', status: o.status, ...(o.retryAfterSeconds !== undefined ? { retryAfterSeconds: o.retryAfterSeconds } : {}) };
  return { kind: 'success' };
}

export class LocalScheduling implements EndpointScheduling {
  readonly outliers: OutlierDetector;
  readonly flow: FlowAdmission | undefined;

  constructor(
    readonly endpoints: EndpointSource,
    readonly scheduler: Scheduler,
    private readonly options: LocalSchedulingOptions,
  ) {
    this.outliers = new OutlierDetector(options.now, options.outliers);
    // Admission's view is the source's snapshot less the ejected endpoints: both tell their changes.
    const onChange = endpoints.onChange?.bind(endpoints);
    const view: ViewChanges = onChange
      ? {
          onChange: (listener) => {
            const stops = [onChange(listener), this.outliers.onEjection(listener)];
            return () => stops.forEach((stop) => stop());
          },
          settled: () => this.outliers.settled(),
        }
      : {};
    this.flow = options.flowControl ? new FlowAdmission(view, scheduler, (pool) => this.outliers.apply(endpoints.snapshot(pool)), { ...options.flowControl, now: options.now }) : undefined;
    // Without flow control there is no admit: the director goes straight to pick.
    if (!this.flow) this.admit = undefined;
  }

  admit?(pool: Pool, request: SchedulingRequest, bytes: number, signal: ClientSignalLike): AdmitResult | Promise<AdmitResult> {
    return this.flow!.admit(pool, request, bytes, signal);
  }

  /** Synchronous unless a producer must wait for something first (a prompt's token ids from the pods). */
  pick(pool: Pool, request: SchedulingRequest): Decision | Promise<Decision> {
    const view = () => {
      const whole = this.outliers.apply(this.endpoints.snapshot(pool));
      const subset = request.hints?.subset;
      const snapshot = subset ? restrictToSubset(whole, subset) : whole;
      return this.flow ? this.flow.restrict(pool, snapshot, request, whole) : snapshot;
    };
    const snapshot = view();
    const subset = request.hints?.subset;
    if (subset && !snapshot.endpoints.some((e) => e.ready)) {
      return { kind: 'unavailable', reason: `none of the endpoints x-gateway-destination-endpoint-subset names (${subset.join(', ')}) is a ready endpoint of pool "${pool.name}"` };
    }
    const waiting = this.scheduler.prepare?.(pool, snapshot, request);
    if (!waiting) return this.#explained(pool, request, this.scheduler.decide(pool, snapshot, request));
    // The view may have moved on while waiting: decide on the current one.
    return waiting.then(() => this.#explained(pool, request, this.scheduler.decide(pool, view(), request)));
  }

  /** An explained decision says what flow isolation allowed it. */
  #explained(pool: Pool, request: SchedulingRequest, decision: Decision): Decision {
    if (decision.explain && this.flow?.isolation) {
      const isolation = this.flow.explainIsolation(pool, request);
      if (isolation) decision.explain.isolation = isolation;
    }
    return decision;
  }

  /** What the pools' model servers say they serve (their /v1/models, read by the agent). */
  servedModels(pools: readonly Pool[]): ServedModelEntry[] {
    return servedModelsOf(pools.map((p) => this.endpoints.snapshot(p)));
  }

  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    this.scheduler.dispatched(pool, endpoint, request);
    this.flow?.dispatched(pool, endpoint, request);
  }

  firstToken(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    this.scheduler.firstToken?.(pool, endpoint, request);
    this.flow?.wake(pool);
  }

  completed(pool: Pool, endpoint: Endpoint, request: SchedulingRequest, outcome: Outcome): void {
    this.scheduler.completed(pool, endpoint, request);
    this.flow?.completed(pool, endpoint, request);
    this.outliers.observe(endpoint, outlierOutcome(outcome));
    this.flow?.wake(pool);
  }

  /**
   * Ready while any pool can serve: it has a ready endpoint, and fresh
   * metrics or the FailOpen failure mode (then it routes without them, and
   * says so as degraded). Not ready only when no pool can route at all — a
   * readiness probe must not take every replica out of service because the
   * agent is down while FailOpen pools still serve.
   */
  readiness(pools: readonly Pool[]): Readiness {
    const now = this.options.now();
    const problem = this.endpoints.notReadyReason();
    const down: string[] = [];
    const degraded: string[] = [];
    let serving = 0;
    for (const pool of pools) {
      const snapshot = this.endpoints.snapshot(pool);
      let ready = 0;
      let fresh = 0;
      for (const e of snapshot.endpoints) {
        if (!e.ready) continue;
        ready++;
        if (snapshot.hasMetrics && e.scrapedAt !== undefined && now - e.scrapedAt <= this.options.staleAfterMs) fresh++;
      }
      if (ready === 0) down.push(`pool "${pool.name}" has no ready endpoint`);
      else if (fresh > 0) serving++;
      else if (pool.failureMode === 'FailOpen') {
        serving++;
        degraded.push(pool.name);
      } else down.push(`pool "${pool.name}" has no endpoint with fresh metrics (FailClose)`);
    }
    const why = [...(problem ? [problem] : []), ...down];
    if (serving === 0) return { ready: false, reason: why.join('; ') || `no pool has a ready endpoint (pools: ${pools.map((p) => p.name).join(', ') || 'none'})` };
    if (degraded.length === 0 && why.length === 0) return { ready: true };
    const notes = degraded.length ? [`serving without fresh metrics (FailOpen): ${degraded.join(', ')}`, ...why] : why;
    return { ready: true, reason: notes.join('; '), ...(degraded.length ? { degraded } : {}) };
  }
}
