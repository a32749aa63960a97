/**
 * The `flowControl` block and `featureGates` of an EndpointPickerConfig, as
 * llm-d defines them (`apix/config/v1alpha1/endpointpickerconfig_types.go`;
 * the names and defaults in docs/compatibility.md §d). Parsed and validated
 * here — every policy reference must name a declared plugin — and handed on
 * in the validated configuration; the flow-control layer reads it.
 *
 * Flow-control policy plugins are accepted when the flow-control layer
 * implements them (src/flowcontrol/: the fairness and ordering policies
 * below); a config naming another (a usage-limit or eviction policy,
 * program-aware-fairness) is refused with what it does, like any llm-d
 * plugin infergate does not have.
 */
import * as v from 'valibot';

/** Kubernetes resource.Quantity as llm-d takes it (`100`, `1k`, `500M`, `1Gi`). */
const QUANTITY = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|Pi|Ei|k|M|G|T|P|E)?$/;
const SUFFIX: Record<string, number> = { '': 1, k: 1e3, M: 1e6, G: 1e9, T: 1e12, P: 1e15, E: 1e18, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, Pi: 2 ** 50, Ei: 2 ** 60 };
export const Quantity = v.union(
  [
    v.pipe(v.number(), v.minValue(0, 'must not be negative')),
    v.pipe(
      v.string(),
      v.regex(QUANTITY, 'must be a quantity like 100, 1k, 500M or 1Gi'),
      v.transform((s) => {
        const m = QUANTITY.exec(s)!;
        return Math.round(Number(m[1]) * SUFFIX[m[2] ?? '']!);
      }),
    ),
  ],
  'must be a quantity like 100, 1k, 500M or 1Gi',
);

/** A Go duration (`60s`, `1m30s`, `500ms`, `1.5h`), in ms. */
const GO_DURATION = /^(?:([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h))+$/;
const UNIT: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
export const GoDuration = v.pipe(
  v.string('must be a duration like 60s, 1m30s or 500ms'),
  v.regex(GO_DURATION, 'must be a duration like 60s, 1m30s or 500ms'),
  v.transform((s) => {
    let ms = 0;
    for (const [, n, unit] of s.matchAll(/([0-9]+(?:\.[0-9]+)?)(ns|us|µs|ms|s|m|h)/g)) ms += Number(n) * UNIT[unit!]!;
    return ms;
  }),
);

const Ref = v.pipe(v.string('must be a plugin name'), v.minLength(1, 'must not be empty'));
const Band = {
  maxBytes: v.optional(Quantity),
  maxRequests: v.optional(Quantity),
  fairnessPolicyRef: v.optional(Ref),
  orderingPolicyRef: v.optional(Ref),
};
const PriorityBand = v.strictObject({ priority: v.pipe(v.number('must be an integer'), v.integer('must be an integer')), ...Band });
const BandTemplate = v.strictObject(Band);

export const FlowControlBlock = v.strictObject({
  maxBytes: v.optional(Quantity),
  maxRequests: v.optional(Quantity),
  defaultRequestTTL: v.optional(GoDuration),
  noEndpointRequestTTL: v.optional(GoDuration),
  defaultPriorityBand: v.optional(BandTemplate),
  defaultNegativePriorityBand: v.optional(BandTemplate),
  priorityBands: v.optional(v.array(PriorityBand, 'must be a list')),
  usageLimitPolicyPluginRef: v.optional(Ref),
  saturationDetector: v.optional(v.strictObject({ pluginRef: Ref })),
  enableEviction: v.optional(v.literal(false, 'must be false: infergate does not evict requests already sent to a pod')),
  /** infergate's: flow isolation (src/flowcontrol/isolation.ts) — endpoints reserved for the flows within their share while the pool is contended. */
  isolation: v.optional(
    v.strictObject({
      headroom: v.optional(v.pipe(v.number('must be a number'), v.minValue(0, 'must be between 0 and 4'), v.maxValue(4, 'must be between 0 and 4'))),
      window: v.optional(v.pipe(GoDuration, v.minValue(100, 'must be at least 100ms'), v.maxValue(60_000, 'must be at most 60s'))),
    }),
  ),
});

/** The validated block; durations in ms, quantities as numbers. Absent fields take llm-d's defaults in the flow-control layer. */
export type FlowControlConfig = v.InferOutput<typeof FlowControlBlock> & {
  /** The plugins its refs name: plugin name → type and parameters. */
  plugins: Record<string, { type: string; parameters: Record<string, unknown> }>;
};

/** Feature gates llm-d's router knows (unknown gates are an error there too). */
export const FEATURE_GATES = ['flowControl', 'haPopulateNonLeaderDatastore', 'dataLayer', 'prepareDataPlugins', 'enableLegacyMetrics'] as const;
export type FeatureGate = (typeof FEATURE_GATES)[number];

export const FeatureGates = v.array(
  v.pipe(v.string('must be a gate name'), v.regex(new RegExp(`^(${FEATURE_GATES.join('|')})(=(true|false))?$`), `must be one of ${FEATURE_GATES.join(', ')}, optionally =true or =false`)),
  'must be a list of gate names',
);

/** `["flowControl", "dataLayer=false"]` → `{ flowControl: true, dataLayer: false }`. */
export function featureGateValues(gates: readonly string[]): Partial<Record<FeatureGate, boolean>> {
  const out: Partial<Record<FeatureGate, boolean>> = {};
  for (const g of gates) {
    const [name, value] = g.split('=');
    out[name as FeatureGate] = value !== 'false';
  }
  return out;
}

/** Every plugin name the block refers to, with its field path. */
export function flowControlRefs(block: v.InferOutput<typeof FlowControlBlock>): { ref: string; path: string }[] {
  const refs: { ref: string; path: string }[] = [];
  const band = (b: v.InferOutput<typeof BandTemplate> | undefined, at: string) => {
    if (b?.fairnessPolicyRef) refs.push({ ref: b.fairnessPolicyRef, path: `${at}.fairnessPolicyRef` });
    if (b?.orderingPolicyRef) refs.push({ ref: b.orderingPolicyRef, path: `${at}.orderingPolicyRef` });
  };
  band(block.defaultPriorityBand, 'flowControl.defaultPriorityBand');
  band(block.defaultNegativePriorityBand, 'flowControl.defaultNegativePriorityBand');
  block.priorityBands?.forEach((b, i) => band(b, `flowControl.priorityBands[${i}]`));
  if (block.usageLimitPolicyPluginRef) refs.push({ ref: block.usageLimitPolicyPluginRef, path: 'flowControl.usageLimitPolicyPluginRef' });
  if (block.saturationDetector) refs.push({ ref: block.saturationDetector.pluginRef, path: 'flowControl.saturationDetector.pluginRef' });
  return refs;
}

/** Parameter schemas of the flow-control plugin types the flow-control layer implements (src/flowcontrol/config.ts). */
const FLOW_CONTROL_TYPES = new Map<string, v.GenericSchema<unknown, Record<string, unknown>>>(
  ['global-strict-fairness-policy', 'round-robin-fairness-policy', 'fcfs-ordering-policy', 'edf-ordering-policy', 'slo-deadline-ordering-policy'].map((t) => [t, v.strictObject({}, 'takes no parameters')]),
);
/** Which refs a policy type may fill: fairness or ordering. */
export function flowControlPolicyRole(type: string): 'fairness' | 'ordering' | undefined {
  return type.endsWith('-fairness-policy') ? 'fairness' : type.endsWith('-ordering-policy') ? 'ordering' : undefined;
}

/** Called by the flow-control layer for each policy type it implements, so configs may declare it. */
export function registerFlowControlPluginType(type: string, parameters: v.GenericSchema<unknown, Record<string, unknown>>): void {
  FLOW_CONTROL_TYPES.set(type, parameters);
}

export function flowControlPluginType(type: string): v.GenericSchema<unknown, Record<string, unknown>> | undefined {
  return FLOW_CONTROL_TYPES.get(type);
}
