/**
 * Flow control's configuration, with llm-d's names and defaults (its
 * EndpointPickerConfig `flowControl` block, docs/compatibility.md §d):
 * global and per-band limits on queued requests and bytes, the queue-wait
 * TTLs, and per band a fairness policy between flows and an ordering policy
 * within a flow.
 */

import type { IsolationOptions } from './isolation.ts';

export type FairnessPolicy = 'global-strict-fairness-policy' | 'round-robin-fairness-policy';
export type OrderingPolicy = 'fcfs-ordering-policy' | 'edf-ordering-policy' | 'slo-deadline-ordering-policy';

export interface BandConfig {
  /** Bytes of queued requests in this band (llm-d: omitted or 0 → 1G: bands are always bounded). */
  maxBytes: number;
  /** Queued requests in this band (llm-d: omitted or 0 → 5000). */
  maxRequests: number;
  fairness: FairnessPolicy;
  ordering: OrderingPolicy;
}

export interface FlowControlConfig {
  /** Bytes of all queued requests, every band (0: no global limit). */
  maxBytes: number;
  /** Queued requests, every band (0: no global limit). */
  maxRequests: number;
  /** Longest wait in the queue while the pool has endpoints, ms (llm-d's defaultRequestTTL, 60 s; 0: no limit). */
  defaultRequestTTLMs: number;
  /** Longest wait while the pool has no ready endpoint, ms (llm-d's noEndpointRequestTTL, 60 s; 0: no limit). */
  noEndpointRequestTTLMs: number;
  /** Explicit bands by priority. */
  bands: ReadonlyMap<number, BandConfig>;
  /** The band of a priority ≥ 0 with no explicit band. */
  defaultBand: BandConfig;
  /** The band of a negative priority with no explicit band. */
  defaultNegativeBand: BandConfig;
  /**
   * Negative priorities are refused at once when the pool is saturated
   * (sheddable, as without flow control) rather than queued.
   */
  shedNegative: boolean;
  /** Flow isolation (infergate's; src/flowcontrol/isolation.ts): off when absent. */
  isolation?: IsolationOptions;
}

export const DEFAULT_BAND: BandConfig = {
  maxBytes: 1_000_000_000,
  maxRequests: 5000,
  fairness: 'global-strict-fairness-policy',
  ordering: 'fcfs-ordering-policy',
};

export const DEFAULT_FLOW_CONTROL: FlowControlConfig = {
  maxBytes: 0,
  maxRequests: 0,
  defaultRequestTTLMs: 60_000,
  noEndpointRequestTTLMs: 60_000,
  bands: new Map(),
  defaultBand: DEFAULT_BAND,
  defaultNegativeBand: DEFAULT_BAND,
  shedNegative: true,
};

export function bandFor(config: FlowControlConfig, priority: number): BandConfig {
  return config.bands.get(priority) ?? (priority < 0 ? config.defaultNegativeBand : config.defaultBand);
}
