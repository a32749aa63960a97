/**
 * Admission with flow control (src/flowcontrol/): the saturation detector
 * that decides when requests wait, fed by the pool's snapshot and this
 * gateway's own in-flight counts, and the wake-ups that dispatch them.
 *
 * The detector is llm-d's two, combined: utilization — the mean over fresh
 * ready endpoints of max((waiting + dispatches not yet in the metrics) /
 * queueDepthThreshold, kvUsage / kvCacheUtilThreshold) reaching `threshold`
 * — and concurrency — this gateway's requests in flight reaching
 * `maxConcurrency` per ready endpoint. Requests admitted but not yet
 * dispatched count as waiting, spread over the endpoints, so one wake-up
 * lets through what fits and no more.
 */
import type { EndpointSource, PoolSnapshot } from '../endpoints/types.ts';
import type { FlowControlConfig } from '../flowcontrol/config.ts';
import { FlowController, type AdmitResult, type PoolState } from '../flowcontrol/controller.ts';
import type { Pool } from '../routing/schema.ts';
import type { SaturationConfig } from './config.ts';
import type { Scheduler, SchedulingRequest } from './scheduler.ts';

export interface AdmissionOptions {
  flowControl: FlowControlConfig;
  saturation: SaturationConfig;
  /** Requests of this gateway in flight per ready endpoint at which the pool counts as saturated (0: no limit). */
  maxConcurrency: number;
  now: () => number;
}

export class FlowAdmission {
  readonly controller: FlowController;
  readonly #pools = new Map<string, Pool>();
  readonly #stop: (() => void) | undefined;

  constructor(
    private readonly endpoints: EndpointSource,
    private readonly scheduler: Scheduler,
    private readonly snapshot: (pool: Pool) => PoolSnapshot,
    private readonly options: AdmissionOptions,
  ) {
    this.controller = new FlowController(options.flowControl, (pool, extra) => this.#state(pool, extra), options.now);
    // Fresh metrics may free capacity: dispatch what waits (a few comparisons when nothing does).
    this.#stop = endpoints.onChange?.(() => {
      for (const name of this.#pools.keys()) if (this.controller.waiting(name)) this.controller.wake(name);
    });
  }

  admit(pool: Pool, request: SchedulingRequest, bytes: number, signal: Parameters<FlowController['admit']>[0]['signal']): AdmitResult | Promise<AdmitResult> {
    this.#pools.set(pool.name, pool);
    return this.controller.admit({
      requestId: request.requestId,
      pool: pool.name,
      priority: request.priority,
      flow: request.fairnessId ?? request.tenant ?? 'default-flow',
      bytes,
      ttlMs: request.ttlMs,
      sloTtftMs: request.sloTtftMs,
      signal,
    });
  }

  wake(pool: Pool): void {
    this.controller.wake(pool.name);
  }

  close(): void {
    this.#stop?.();
  }

  #state(poolName: string, extra: number): PoolState {
    const pool = this.#pools.get(poolName);
    if (!pool) return 'available';
    const snapshot = this.snapshot(pool);
    const now = this.options.now();
    const s = this.options.saturation;
    let ready = 0;
    let fresh = 0;
    let load = 0;
    let inFlight = 0;
    for (const e of snapshot.endpoints) {
      if (!e.ready) continue;
      ready++;
      const counts = this.scheduler.inFlight?.(pool, e);
      inFlight += counts?.total ?? 0;
      const m = e.metrics;
      if (!snapshot.hasMetrics || m === undefined || e.scrapedAt === undefined || now - e.scrapedAt > s.metricsStalenessThreshold) continue;
      fresh++;
      const waiting = m.waiting + (counts?.unreflected ?? 0);
      load += Math.max(s.queueDepthThreshold > 0 ? waiting / s.queueDepthThreshold : 0, s.kvCacheUtilThreshold > 0 ? m.kvUsage / s.kvCacheUtilThreshold : 0);
    }
    if (ready === 0) return 'no-endpoints';
    const max = this.options.maxConcurrency;
    if (max > 0 && inFlight + extra >= max * ready) return 'saturated';
    if (fresh === 0) return 'available';
    // The admitted-but-not-dispatched requests, spread over the fresh endpoints' queues.
    const spread = s.queueDepthThreshold > 0 ? extra / s.queueDepthThreshold / fresh : 0;
    return load / fresh + spread >= s.threshold ? 'saturated' : 'available';
  }
}
