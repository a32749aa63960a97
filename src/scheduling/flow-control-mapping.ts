/**
 * The validated `flowControl` block of an EndpointPickerConfig (with the
 * `flowControl` feature gate on), as the flow-control layer's configuration
 * (src/flowcontrol/config.ts): llm-d's names and defaults — a band's
 * `maxBytes` / `maxRequests` omitted or 0 are 1G / 5000, the negative band
 * falls back to the default band, TTLs default to 60 s.
 */
import { DEFAULT_BAND, type BandConfig, type FairnessPolicy, type FlowControlConfig as FlowLayerConfig, type OrderingPolicy } from '../flowcontrol/config.ts';
import { DEFAULT_ISOLATION } from '../flowcontrol/isolation.ts';
import type { EndpointPickerConfig } from './config.ts';
import type { FlowControlConfig } from './flow-control-config.ts';

type BandBlock = { maxBytes?: number; maxRequests?: number; fairnessPolicyRef?: string; orderingPolicyRef?: string };

/** The flow-control layer's configuration, or undefined when the config does not turn the `flowControl` gate on. */
export function flowControlFromConfig(config: EndpointPickerConfig): Partial<FlowLayerConfig> | undefined {
  if (!config.featureGates.flowControl) return undefined;
  const block = config.flowControl;
  if (!block) return {};
  const band = (b: BandBlock | undefined, base: BandConfig): BandConfig => ({
    maxBytes: b?.maxBytes || DEFAULT_BAND.maxBytes,
    maxRequests: b?.maxRequests || DEFAULT_BAND.maxRequests,
    fairness: (b?.fairnessPolicyRef ? typeOf(block, b.fairnessPolicyRef) : base.fairness) as FairnessPolicy,
    ordering: (b?.orderingPolicyRef ? typeOf(block, b.orderingPolicyRef) : base.ordering) as OrderingPolicy,
  });
  const defaultBand = band(block.defaultPriorityBand, DEFAULT_BAND);
  return {
    ...(block.maxBytes !== undefined ? { maxBytes: block.maxBytes } : {}),
    ...(block.maxRequests !== undefined ? { maxRequests: block.maxRequests } : {}),
    ...(block.defaultRequestTTL !== undefined ? { defaultRequestTTLMs: block.defaultRequestTTL } : {}),
    ...(block.noEndpointRequestTTL !== undefined ? { noEndpointRequestTTLMs: block.noEndpointRequestTTL } : {}),
    defaultBand,
    defaultNegativeBand: block.defaultNegativePriorityBand ? band(block.defaultNegativePriorityBand, defaultBand) : defaultBand,
    bands: new Map((block.priorityBands ?? []).map((b) => [b.priority, band(b, defaultBand)])),
    ...(block.isolation ? { isolation: { headroom: block.isolation.headroom ?? DEFAULT_ISOLATION.headroom, windowMs: block.isolation.window ?? DEFAULT_ISOLATION.windowMs } } : {}),
  };
}

function typeOf(block: FlowControlConfig, ref: string): string {
  return block.plugins[ref]!.type;
}
