/** What one simulated pod's HTTP handlers share. */
import type { RealTimeDriver } from './driver.ts';
import type { SimEngine } from './engine.ts';
import type { FaultConfig } from './faults.ts';
import type { PodKvHashing } from './prompt-blocks.ts';

export type EngineFlavor = 'vllm' | 'sglang';

export interface PodContext {
  /** Pod name, e.g. `sim-0` (in logs and /admin/state). */
  readonly name: string;
  /** The base model this pod serves. */
  readonly model: string;
  /** LoRA adapters registered on this pod (servable by name). */
  readonly adapters: Set<string>;
  readonly engine: SimEngine;
  readonly driver: RealTimeDriver;
  readonly flavor: EngineFlavor;
  /** Unix seconds at start (`created` of /v1/models). */
  readonly startedAt: number;
  /** Seeded stream for ids and fault draws. */
  readonly random: () => number;
  /** Output text from the prompt alone (see SimulatorOptions.deterministic). */
  readonly deterministic: boolean;
  faults: FaultConfig;
  /** Applies a new fault set (the pod may stop or resume listening). */
  setFaults(faults: FaultConfig): Promise<void>;
  /** Set when the pod publishes KV events: prompts are hashed as vLLM hashes them. */
  readonly kvHashing?: PodKvHashing;
  /** HTTP requests in flight on this pod. */
  inFlight: number;
  /** Inference requests (`POST /v1/*`) received since start, answered or not. */
  received: number;
}
