/**
 * Trace replay through the simulated-time mode: pick the pod count (unless
 * given) so that the busiest minute at speed 1 loads the cluster to ~90% of
 * its round-robin capacity, then replay at each speed with every strategy.
 */
import { podSaturation } from './capacity.ts';
import { exponential, seeded } from '../lib/rand.ts';
import { runSimulated } from './sim-loop.ts';
import type { LevelResult, SimSuiteOptions, WorkloadResult } from './run.ts';
import type { RunMetrics, Workload } from './types.ts';
import { loadTrace, peakMinuteRate, reuseCeiling, traceWorkload, type LoadedTrace, type TraceWorkloadOptions } from './workloads/trace.ts';

export interface TraceSuiteOptions extends Omit<SimSuiteOptions, 'levels' | 'durationMs'> {
  file: string;
  speeds: number[];
  /** Slice of the trace by recorded time (ms). */
  fromMs?: number;
  spanMs?: number;
}

/** The trace's requests in order, re-timed as a Poisson stream at `rate` for 60 s (for the capacity probe). */
function retimed(base: Workload, rate: number, pods: number, seed: number): Workload {
  const random = seeded(seed, 12);
  const durationMs = 60_000;
  const requests = [];
  let t = 0;
  for (let i = 0; ; i++) {
    t += exponential(random, 1000 / rate);
    if (t >= durationMs) break;
    requests.push({ ...base.requests[i % base.requests.length]!, at: t });
  }
  return { ...base, pools: [{ ...base.pools[0]!, pods }], requests, durationMs, warmupMs: 9_000 };
}

export interface PodChoice {
  pods: number;
  perPod: number;
  peakRate: number;
}

/** Pods such that the busiest minute (at speed 1) is ~90% of pods × one pod's round-robin capacity on this trace's mix. */
export function choosePods(trace: LoadedTrace, options: TraceSuiteOptions): PodChoice {
  const base = traceWorkload(trace, { pods: 1, speed: 1, fromMs: options.fromMs, spanMs: options.spanMs });
  const peakRate = peakMinuteRate(base);
  let pods = 4;
  let perPod = 0;
  for (let i = 0; i < 3; i++) {
    const n = pods;
    perPod = podSaturation((r) => retimed(base, r * n, n, options.seed), 'trace-pool', options.seed, 0.25);
    const next = Math.max(1, Math.ceil(peakRate / (0.9 * perPod)));
    if (next === pods) break;
    pods = next;
  }
  return { pods, perPod, peakRate };
}

export function runTraceSim(options: TraceSuiteOptions): WorkloadResult & { ceilingNote: string; choice: PodChoice } {
  const trace = loadTrace(options.file, options.seed);
  const choice = options.pods !== undefined ? { pods: options.pods, perPod: NaN, peakRate: NaN } : choosePods(trace, options);
  const levels: LevelResult[] = [];
  let last: Workload | undefined;
  for (const speed of options.speeds) {
    const wopts: TraceWorkloadOptions = { pods: choice.pods, speed, fromMs: options.fromMs, spanMs: options.spanMs };
    const workload = traceWorkload(trace, wopts);
    last = workload;
    const ceiling = reuseCeiling(trace, workload, wopts);
    const runs: RunMetrics[] = [];
    for (const strategy of options.strategies) {
      const m = runSimulated(workload, strategy, { seed: options.seed, kernel: options.kernel });
      runs.push(m);
      options.progress?.(`${options.file} ${speed}× ${strategy.name}: ttft p99 ${m.ttft.p99.toFixed(0)} ms, hits ${(m.prefixHitRate * 100).toFixed(1)}% (${(m.wallMs / 1000).toFixed(1)} s)`);
    }
    levels.push({ level: speed, rate: workload.rate, requests: workload.requests.length, runs, ceiling });
  }
  const perPod = choice.perPod;
  return {
    workload: `trace:${options.file}`,
    describe: `${trace.kind === 'mooncake' ? 'Mooncake' : 'Azure 2023'} trace ${options.file}${options.spanMs !== undefined ? `, slice ${(options.fromMs ?? 0) / 1000}–${((options.fromMs ?? 0) + options.spanMs) / 1000} s` : ''}, ${last?.requests.length ?? 0} requests`,
    mode: 'sim',
    axis: 'speed',
    capacity: { perPod: { 'trace-pool': perPod }, poolRates: { 'trace-pool': perPod * choice.pods }, total: perPod * choice.pods },
    capacityMethod: options.pods !== undefined ? `given (--pods ${options.pods})` : `pods = ceil(busiest-minute rate ${choice.peakRate.toFixed(2)} req/s ÷ (0.9 × one pod's round-robin capacity on the trace's mix, ${perPod.toFixed(2)} req/s))`,
    pods: { 'trace-pool': choice.pods },
    durationMs: last?.durationMs ?? 0,
    warmupMs: last?.warmupMs ?? 0,
    levels,
    ceilingNote: trace.kind === 'mooncake' ? 'reuse ceiling = an infinite cache replaying the same requests (README note 2)' : 'no prefix information (unique prompts)',
    choice,
  };
}
