/**
 * One workload through the simulated-time mode: measure capacity, then for
 * each load level generate the workload (same seed → same arrivals for every
 * strategy) and run every strategy on it.
 */
import { measureCapacity, type Capacity } from './capacity.ts';
import { runSimulated } from './sim-loop.ts';
import type { Strategy } from './strategies/index.ts';
import type { RunMetrics, Workload, WorkloadDef, WorkloadParams } from './types.ts';

export const LEVELS = [0.5, 0.8, 0.95, 1.1];

export interface LevelResult {
  level: number;
  /** Requests/s asked for (steady part). */
  rate: number;
  /** Requests/s that arrived in the measurement window (bursty workloads drift from `rate` within one run). */
  offeredRate?: number;
  requests: number;
  runs: RunMetrics[];
  /** Traces: the prefix-reuse ceiling (infinite cache) of the measured requests. */
  ceiling?: number;
  /** Workloads with an unloaded variant (WorkloadDef.unloaded): each strategy on it, same order as `runs`. */
  unloaded?: RunMetrics[];
}

export interface WorkloadResult {
  workload: string;
  describe: string;
  mode: 'sim' | 'e2e';
  /** What `level` means: share of capacity (default) or replay speed. */
  axis?: 'load' | 'speed';
  capacity: Capacity;
  /** How capacity was found (one line for the report). */
  capacityMethod: string;
  pods: Record<string, number>;
  durationMs: number;
  warmupMs: number;
  notes?: string;
  levels: LevelResult[];
  /** End-to-end mode: the same requests through the simulated-time mode, for the ranking check. */
  simulated?: LevelResult[];
}

export interface SimSuiteOptions {
  seed: number;
  durationMs: number;
  levels: number[];
  strategies: Strategy[];
  kernel?: WebAssembly.Module;
  pods?: number;
  /** Called after each run (progress). */
  progress?: (line: string) => void;
}

/** Requests per second arriving in the workload's measurement window. */
export function offeredRate(w: Workload): number {
  let n = 0;
  for (const r of w.requests) if (r.at >= w.warmupMs && r.at < w.durationMs) n++;
  return (n * 1000) / Math.max(1, w.durationMs - w.warmupMs);
}

export const CAPACITY_METHOD =
  "one pod fed every N-th request (what round-robin gives it) at rising rates; capacity = the highest rate at which the median request of the steady window's second half is admitted within 250 ms and ≥ 90% of arrivals complete, × pods";

/** The workload's description, and the pod count when `--pods` replaced the workload's own. */
export function describeRun(def: WorkloadDef, pods: number | undefined): string {
  return pods === undefined ? def.describe : `${def.describe} (this run: ${pods} pods a pool, from --pods)`;
}

export function runWorkloadSim(def: WorkloadDef, options: SimSuiteOptions, capacity?: Capacity): WorkloadResult {
  const { name, generate } = def;
  const describe = describeRun(def, options.pods);
  const base: WorkloadParams = { seed: options.seed, rate: 1, durationMs: 60_000, pods: options.pods };
  const cap = capacity ?? measureCapacity(generate, base);
  const levels: LevelResult[] = [];
  let shape: Workload | undefined;
  for (const level of options.levels) {
    const poolRates: Record<string, number> = {};
    for (const [pool, r] of Object.entries(cap.poolRates)) poolRates[pool] = r * level;
    const workload = generate({ ...base, durationMs: options.durationMs, rate: cap.total * level, poolRates, capacity: cap.total });
    shape = workload;
    const runs: RunMetrics[] = [];
    for (const strategy of options.strategies) {
      const m = runSimulated(workload, strategy, { seed: options.seed, kernel: options.kernel });
      runs.push(m);
      options.progress?.(`${name} ${Math.round(level * 100)}% ${strategy.name}: ttft p99 ${m.ttft.p99.toFixed(0)} ms (${(m.wallMs / 1000).toFixed(1)} s)`);
    }
    let unloaded: RunMetrics[] | undefined;
    if (def.unloaded) {
      const alone = def.unloaded(workload);
      unloaded = options.strategies.map((strategy) => {
        const m = runSimulated(alone, strategy, { seed: options.seed, kernel: options.kernel });
        options.progress?.(`${name} ${Math.round(level * 100)}% ${strategy.name} (unloaded): ttft p99 ${m.ttft.p99.toFixed(0)} ms (${(m.wallMs / 1000).toFixed(1)} s)`);
        return m;
      });
    }
    levels.push({ level, rate: cap.total * level, offeredRate: offeredRate(workload), requests: workload.requests.length, runs, unloaded });
  }
  return {
    workload: name,
    describe,
    mode: 'sim',
    capacity: cap,
    capacityMethod: CAPACITY_METHOD,
    pods: Object.fromEntries((shape?.pools ?? []).map((p) => [p.name, p.pods])),
    durationMs: shape?.durationMs ?? options.durationMs,
    warmupMs: shape?.warmupMs ?? 0,
    notes: shape?.notes,
    levels,
  };
}
