/**
 * Simulated-time mode: a discrete-event loop over request arrivals, engine
 * step ends and scrape ticks. Engines step (no per-token events); the
 * scheduler is called with the simulated clock, and sees metrics only as of
 * the last scrape (every 50 ms), so they are stale in between, as in reality.
 */
import type { Sequence } from '../../src/sim/index.ts';
import { blockHashes } from '../../src/sim/text.ts';
import type { SchedulingRequest } from '../../src/scheduling/scheduler.ts';
import type { Pool } from '../../src/routing/schema.ts';
import type { Endpoint } from '../../src/endpoints/types.ts';
import { SimCluster, type SimPod } from './cluster.ts';
import { EventHeap } from './heap.ts';
import { seeded } from '../lib/rand.ts';
import { RunCollector } from './collector.ts';
import type { Strategy } from './strategies/index.ts';
import { materialize } from './workloads/common.ts';
import type { RequestSpec, RunMetrics, Workload } from './types.ts';
import { FlowAdmission } from '../../src/scheduling/admission.ts';
import { DEFAULT_FLOW_CONTROL } from '../../src/flowcontrol/config.ts';
import { DEFAULT_SATURATION } from '../../src/scheduling/config.ts';
import type { AdmitResult } from '../../src/flowcontrol/controller.ts';

export interface SimRunOptions {
  seed: number;
  scrapeIntervalMs?: number;
  /** Simulated time allowed after the last arrival for queues to drain (default: the workload's duration). */
  drainMs?: number;
  kernel?: WebAssembly.Module;
  /** Called for every finished request (analysis: which decisions made the tail). */
  onDone?: (seq: Sequence, arrival: number, endpointId: string) => void;
}

interface InFlight {
  sreq: SchedulingRequest;
  pool: Pool;
  endpoint: Endpoint;
  at: number;
  measured: boolean;
  last: number;
  groups: readonly string[] | undefined;
}

const PRIORITY = { Critical: 1, Standard: 0, Sheddable: -1 } as const;

export function runSimulated(workload: Workload, strategy: Strategy, options: SimRunOptions): RunMetrics {
  const started = performance.now();
  const interval = options.scrapeIntervalMs ?? 50;
  const endAt = workload.durationMs + (options.drainMs ?? workload.durationMs);
  let clock = 0;
  const hashCache = new WeakMap<SchedulingRequest, readonly number[]>();
  const scheduler = strategy.create({ now: () => clock, random: seeded(options.seed, 7), kernel: options.kernel, hashesOf: (r) => hashCache.get(r) ?? [], pods: () => cluster.pods });
  const collect = new RunCollector(workload, strategy.name);
  const open = new Set<Sequence>();

  const cluster = new SimCluster(workload.pools, strategy.profile, {
    onToken(seq, now) {
      const r = seq.handle as InFlight;
      collect.token(r.at, r.measured, seq.output, now, r.last);
      r.last = now;
      // The first token is the first byte of the streamed answer: the gateway's firstToken callback.
      if (seq.output === 1) {
        scheduler.firstToken?.(r.pool, r.endpoint, r.sreq);
        flow?.wake(r.pool);
      }
    },
    onFinish(seq, now) {
      const r = seq.handle as InFlight;
      clock = now;
      open.delete(seq);
      scheduler.completed(r.pool, r.endpoint, r.sreq);
      flow?.completed(r.pool, r.endpoint, r.sreq);
      flow?.wake(r.pool);
      collect.done(now);
      if (r.measured) collect.finished(seq, r.at, now, r.groups);
      options.onDone?.(seq, r.at, r.endpoint.id);
    },
  });
  const heap = new EventHeap(cluster.pods.length);
  const reqs = workload.requests;
  let ri = 0;
  let nextScrape = 0;
  let id = 0;

  const step = (pod: SimPod, t: number) => heap.set(pod.index, pod.engine.advanceTo(t));

  // Flow control, when the strategy has it: held requests are decided when it lets them through.
  const fc = strategy.flowControl;
  const poolIndex = (pool: Pool) => cluster.byPoolName.get(pool.name)!;
  const flow = fc
    ? new FlowAdmission(
        // The simulated scrapes do not tell admission: it looks at the pool for every request.
        {},
        scheduler,
        (pool) => cluster.snapshots[poolIndex(pool)]!,
        { flowControl: { ...DEFAULT_FLOW_CONTROL, ...fc.config }, saturation: { ...(scheduler.saturation ?? DEFAULT_SATURATION), ...fc.saturation }, maxConcurrency: fc.maxConcurrency, maxPendingPrefillTokens: fc.maxPendingPrefillTokens, now: () => clock },
      )
    : undefined;
  const never = { aborted: false, addEventListener() {}, removeEventListener() {} };

  /** Decide and dispatch now (at `clock`), or count the request shed or failed. */
  const dispatch = (spec: RequestSpec, sreq: SchedulingRequest, pool: Pool, p: number, hashes: readonly number[], measured: boolean) => {
    const snapshot = cluster.snapshots[p]!;
    const decision = scheduler.decide(pool, flow ? flow.restrict(pool, snapshot, sreq) : snapshot, sreq);
    if (decision.kind === 'shed') {
      if (measured) collect.shed(spec.criticality, spec.groups);
      return;
    }
    if (decision.kind === 'unavailable') {
      if (measured) collect.error(spec.groups);
      return;
    }
    const pod = cluster.podById.get(decision.endpoint.id)!;
    scheduler.dispatched(pool, decision.endpoint, sreq);
    flow?.dispatched(pool, decision.endpoint, sreq);
    const r: InFlight = { sreq, pool, endpoint: decision.endpoint, at: spec.at, measured, last: spec.at, groups: spec.groups };
    const seq = pod.engine.submit({ promptTokens: spec.promptTokens, blockHashes: hashes, outputTokens: spec.outputTokens, adapter: spec.adapter ? spec.model : undefined, handle: r }, clock);
    open.add(seq);
    if (measured) collect.started(seq, spec.groups);
    step(pod, clock);
  };

  for (;;) {
    const tReq = ri < reqs.length ? reqs[ri]!.at : Infinity;
    const tEng = heap.peek();
    if (tReq === Infinity && tEng === Infinity) break;
    if (Math.min(tReq, tEng, nextScrape) > endAt) break;
    if (tEng <= tReq && tEng <= nextScrape) {
      const pod = cluster.pods[heap.take()]!;
      clock = tEng;
      step(pod, tEng);
    } else if (nextScrape <= tReq) {
      clock = nextScrape;
      cluster.scrape(clock);
      nextScrape += interval;
      // A fresh snapshot may show room: flow control dispatches what waits.
      if (flow) for (const pool of cluster.pools) flow.wake(pool);
    } else {
      const spec = reqs[ri++]!;
      clock = spec.at;
      const p = cluster.byPoolName.get(spec.pool)!;
      const pool = cluster.pools[p]!;
      const prompt = materialize(spec.parts);
      const sreq: SchedulingRequest = {
        requestId: `r${id++}`, targetModel: spec.model, requestedModel: spec.model, prompt,
        criticality: spec.criticality, priority: PRIORITY[spec.criticality], explain: false,
        ...(spec.tenant ? { fairnessId: spec.tenant } : {}),
      };
      const hashes = blockHashes(prompt, 16, spec.adapter ? spec.model : '');
      hashCache.set(sreq, hashes);
      const measured = spec.at >= workload.warmupMs;
      if (!flow) {
        dispatch(spec, sreq, pool, p, hashes, measured);
        continue;
      }
      const admitted = (result: AdmitResult) => {
        if ('refused' in result) {
          if (measured) result.refused.kind === 'shed' ? collect.shed(spec.criticality, spec.groups) : collect.error(spec.groups);
          return;
        }
        dispatch(spec, sreq, pool, p, hashes, measured);
        result.admitted.started();
      };
      const now = flow.admitThen(pool, sreq, prompt.length, never, admitted);
      if (now) admitted(now);
    }
  }
  for (const seq of open) {
    const r = seq.handle as InFlight;
    if (r.measured) collect.unfinished(seq, r.at, Math.max(clock, endAt), r.groups);
  }
  let loads = 0;
  for (const pod of cluster.pods) loads += pod.engine.stats.loraLoads;
  return collect.result(loads, performance.now() - started);
}
