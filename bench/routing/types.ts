/** The shapes shared by workloads, strategies, the two run modes and the reports. */
import type { EngineConfigOverrides } from '../../src/sim/config.ts';
import type { Criticality } from '../../src/routing/schema.ts';

/** A piece of prompt text: `chars` characters determined by `tag` (see ./text.ts). */
export type TextPart = readonly [tag: string, chars: number];

/** One request of a workload, before its text is materialised. */
export interface RequestSpec {
  /** Arrival, ms from the start. */
  at: number;
  pool: string;
  /** Model name sent to the engine: the base model or a LoRA adapter. */
  model: string;
  /** True when `model` is a LoRA adapter. */
  adapter: boolean;
  /** The prompt: these parts concatenated. */
  parts: readonly TextPart[];
  /** Prompt tokens (sum of parts' characters / 4). */
  promptTokens: number;
  outputTokens: number;
  criticality: Criticality;
}

export interface PoolSpec {
  name: string;
  pods: number;
  /** Base model name of the pool's pods. */
  model: string;
  /** LoRA adapters every pod serves. */
  adapters: readonly string[];
  engine: EngineConfigOverrides;
}

/** A generated workload at a given request rate. */
export interface Workload {
  name: string;
  pools: PoolSpec[];
  /** Sorted by `at`. */
  requests: RequestSpec[];
  /** Arrivals stop here (ms); latency stats skip requests before `warmupMs`. */
  durationMs: number;
  warmupMs: number;
  /** Requests per second asked for (mean). */
  rate: number;
  /** Free-form notes for the report (e.g. burst window). */
  notes?: string;
}

export interface WorkloadParams {
  seed: number;
  /** Mean arrival rate, requests per second (all pools together). */
  rate: number;
  durationMs: number;
  /** Pods per pool (overrides the workload's default). */
  pods?: number;
  /** Requests per second per pool, when pools are loaded separately (overrides `rate`). */
  poolRates?: Record<string, number>;
  /** Generating for the capacity probe: steady traffic only (no burst). */
  forCapacity?: boolean;
  /** The measured cluster capacity, req/s (for bursts sized against it). */
  capacity?: number;
}

/** A workload generator by name. */
export interface WorkloadDef {
  name: string;
  describe: string;
  /** Default pods per pool and duration for a full / quick run. */
  pods: number;
  durationMs: number;
  quickDurationMs: number;
  generate(params: WorkloadParams): Workload;
}

/** What one run (workload × load × strategy) measured. */
export interface RunMetrics {
  strategy: string;
  requests: number;
  measured: number;
  ttft: { p50: number; p90: number; p99: number };
  itl: { p50: number; p99: number };
  e2eP99: number;
  outputTokensPerS: number;
  /** Requests completed per second within the measurement window. */
  completedPerS: number;
  prefixHitRate: number;
  adapterLoads: number;
  shed: { Critical: number; Standard: number; Sheddable: number };
  errors: number;
  unfinished: number;
  /** Median queueing delay (arrival → admission into the batch), ms, of requests arriving in the last half of the window. */
  lateQueueP50: number;
  /** Per-pool breakdown isn't needed by the reports; wall time of the run (ms). */
  wallMs: number;
}
