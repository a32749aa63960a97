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
  /**
   * The request's fairness flow (the tenant): sent as `x-llm-d-inference-fairness-id` end to end. No
   * header means llm-d's `default-flow`.
   */
  tenant?: string;
  /** Groups reported separately (e.g. its criticality, or its tenant and "quiet"): harness bookkeeping, never shown to the scheduler. */
  groups?: readonly string[];
  /** Which session and turn the request belongs to (generator bookkeeping for tests; never shown to the scheduler). */
  session?: { id: number; turn: number; turns: number };
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
  /** The groups (RequestSpec.groups) reported per group, in this order. */
  groups?: readonly string[];
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
  /** The one load `--quick` runs (default: 80% and 95%). */
  quickLevel?: number;
  generate(params: WorkloadParams): Workload;
  /**
   * The same workload without the traffic that loads it beyond what its groups would see alone (e.g. the
   * quiet tenants without the flooding one): every strategy also runs on it, for the groups' "unloaded" values.
   */
  unloaded?(w: Workload): Workload;
}

/** One group's figures (RequestSpec.groups). */
export interface GroupMetrics {
  measured: number;
  ttft: { p50: number; p90: number; p99: number };
  /** Refused (shed), failed, or unfinished at the end of the run. */
  lost: number;
  shed: number;
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
  /** Per group, when the workload names groups. */
  groups?: Record<string, GroupMetrics>;
}
