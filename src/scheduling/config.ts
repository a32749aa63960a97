/**
 * The scheduling configuration: an EndpointPickerConfig as llm-d writes it
 * (`llm-d.ai/v1alpha1`, or the older `inference.networking.x-k8s.io/v1alpha1`)
 * — plugins by type, name and parameters; schedulingProfiles referencing them
 * with weights; featureGates; flowControl; dataLayer; requestHandler — plus
 * infergate's saturation settings. Validated here, at its edge, with llm-d's
 * rules (unique names, refs that exist, one profile handler, strict
 * parameters, profile `default` holding every filter, scorer and picker when
 * none is written); every problem names its field path, and every llm-d
 * plugin infergate does not have is refused by name (config-plugins.ts).
 */
import * as v from 'valibot';
import { parse as parseYaml } from 'yaml';
import { boundedIssueMessage, issuePath, yamlErrorMessage } from '../routing/problems.ts';
import { declarePlugin, PrefillTokens, type DeclaredPlugin } from './config-plugins.ts';
import { featureGateValues, FeatureGates, FlowControlBlock, flowControlPolicyRole, flowControlRefs, type FeatureGate, type FlowControlConfig } from './flow-control-config.ts';
import { MAX_SCORERS } from './kernel/layout.ts';
import { Duration, pluginType } from './plugins/registry.ts';
import { usesTokenBlocks } from './plugins/producer/approx-prefix-cache.ts';

const Name = v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'));
const Threshold = v.pipe(v.number('must be a number'), v.finite('must be finite'), v.minValue(0, 'must not be negative'));
const Ref = v.strictObject({ pluginRef: Name });

/** apiVersions llm-d reads (the x-k8s one is deprecated there, and still accepted). */
const API_VERSIONS = ['llm-d.ai/v1alpha1', 'inference.networking.x-k8s.io/v1alpha1', 'llm-d.ai/v1'];

const Document = v.strictObject({
  apiVersion: v.optional(v.picklist(API_VERSIONS, `must be one of ${API_VERSIONS.join(', ')}`)),
  kind: v.optional(v.literal('EndpointPickerConfig', 'must be EndpointPickerConfig')),
  featureGates: v.optional(FeatureGates, []),
  plugins: v.optional(
    v.array(
      v.strictObject({
        type: Name,
        name: v.optional(Name),
        parameters: v.optional(v.nullable(v.record(v.string(), v.unknown(), 'must be a mapping'))),
      }),
    ),
    [],
  ),
  schedulingProfiles: v.optional(v.array(v.strictObject({ name: Name, plugins: v.array(v.strictObject({ pluginRef: Name, weight: v.optional(Threshold) })) }))),
  saturationDetector: v.optional(
    v.strictObject({
      /** llm-d's deprecated spelling of flowControl.saturationDetector.pluginRef (read as that). */
      pluginRef: v.optional(Name),
      queueDepthThreshold: v.optional(Threshold),
      kvCacheUtilThreshold: v.optional(Threshold),
      metricsStalenessThreshold: v.optional(Duration),
      threshold: v.optional(Threshold),
      retryAfterSeconds: v.optional(v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(1, 'must be ≥ 1'))),
      pendingPrefillTokensThreshold: v.optional(PrefillTokens),
    }),
  ),
  metricsStaleAfter: v.optional(Duration),
  flowControl: v.optional(FlowControlBlock),
  dataLayer: v.optional(
    v.strictObject({
      injectDefaults: v.optional(v.boolean('must be true or false')),
      sources: v.optional(v.array(v.strictObject({ pluginRef: Name, extractors: v.optional(v.array(Ref), []), interval: v.optional(v.string()) })), []),
      discovery: v.optional(v.unknown()),
      peerDiscovery: v.optional(v.unknown()),
      crossReplicaSyncerPluginRef: v.optional(v.unknown()),
      crossReplicaSyncInterval: v.optional(v.unknown()),
    }),
  ),
  requestHandler: v.optional(v.strictObject({ parsers: v.optional(v.array(Ref), []) })),
  parser: v.optional(v.unknown()),
  data: v.optional(v.unknown()),
});

export interface SaturationConfig {
  /** Waiting requests at which an endpoint counts as saturated (default 5). */
  queueDepthThreshold: number;
  /** KV-cache usage at which an endpoint counts as saturated (default 0.8). */
  kvCacheUtilThreshold: number;
  /** Metrics older than this count as fully saturated, ms (default 200). */
  metricsStalenessThreshold: number;
  /** Pool saturation at which Sheddable requests are refused (default 1.0). */
  threshold: number;
  /** Retry-After for shed requests, s (default 1). */
  retryAfterSeconds: number;
  /**
   * llm-d's concurrency-detector: this gateway's requests in flight per ready
   * endpoint at which flow control holds requests (0 or unset: no limit).
   */
  maxConcurrency?: number;
  /**
   * infergate's: prompt tokens this gateway sent an endpoint that are not
   * prefilled yet (the prefill-work producer's count) at which flow control
   * sees no room on it (0 or unset: not counted).
   */
  pendingPrefillTokensThreshold?: number;
}

export interface PluginConfig {
  name: string;
  /** Canonical type, e.g. `queue-scorer`. */
  type: string;
  parameters: Record<string, unknown>;
}

export interface ProfileConfig {
  name: string;
  plugins: Array<{ ref: string; weight: number }>;
}

/** A validated scheduling configuration, ready for createScheduler. */
export interface EndpointPickerConfig {
  /** The plugins profiles run (filters, scorers, pickers, producers). */
  plugins: PluginConfig[];
  profiles: ProfileConfig[];
  saturation: SaturationConfig;
  /** With no endpoint's metrics this fresh, the pool's failure mode applies, ms (default 2000). */
  metricsStaleAfterMs: number;
  /** llm-d feature gates the document turned on or off. */
  featureGates: Partial<Record<FeatureGate, boolean>>;
  /** The validated flowControl block, for the flow-control layer (it applies with the flowControl gate). */
  flowControl?: FlowControlConfig;
  /** Response headers naming the endpoint that served (destination-endpoint-served-verifier). */
  servedEndpointHeaders: string[];
}

export interface ConfigProblem {
  path: string;
  message: string;
}

export type ConfigResult = { ok: true; config: EndpointPickerConfig; warnings: ConfigProblem[] } | { ok: false; problems: ConfigProblem[] };

export const DEFAULT_SATURATION: SaturationConfig = {
  queueDepthThreshold: 5,
  kvCacheUtilThreshold: 0.8,
  metricsStalenessThreshold: 200,
  threshold: 1,
  retryAfterSeconds: 1,
};

/** Parse and validate a YAML (or JSON) scheduling configuration. */
export function parseSchedulerConfig(text: string): ConfigResult {
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    return { ok: false, problems: [{ path: '', message: `not valid YAML: ${yamlErrorMessage(err)}` }] };
  }
  return validateSchedulerConfig(doc ?? {});
}

/** Validate an already-parsed configuration document. */
export function validateSchedulerConfig(doc: unknown): ConfigResult {
  const parsed = v.safeParse(Document, doc);
  if (!parsed.success) {
    return { ok: false, problems: parsed.issues.map((i) => ({ path: issuePath(i), message: i.kind === 'schema' && i.expected === 'never' ? 'is not a field of EndpointPickerConfig' : boundedIssueMessage(i) })) };
  }
  const d = parsed.output;
  const problems: ConfigProblem[] = [];
  const warnings: ConfigProblem[] = [];
  if (d.apiVersion === 'inference.networking.x-k8s.io/v1alpha1') warnings.push({ path: 'apiVersion', message: 'inference.networking.x-k8s.io/v1alpha1 is deprecated in llm-d: llm-d.ai/v1alpha1 replaces it' });
  if (d.parser !== undefined) problems.push({ path: 'parser', message: 'is deprecated in llm-d: requestHandler.parsers replaces it' });
  if (d.data !== undefined) problems.push({ path: 'data', message: 'is an older spelling of dataLayer: write dataLayer' });
  d.featureGates.forEach((g, i) => {
    if (!g.startsWith('flowControl')) warnings.push({ path: `featureGates[${i}]`, message: `${g.split('=')[0]} changes nothing in infergate (only flowControl does)` });
  });

  const declared = new Map<string, DeclaredPlugin>();
  // A reference to a refused plugin is not a second problem: the refusal names it.
  const refused = new Set<string>();
  d.plugins.forEach((p, i) => {
    const plugin = declarePlugin(p, i, problems);
    if (!plugin) {
      refused.add(p.name ?? p.type);
      return;
    }
    if (declared.has(plugin.name)) problems.push({ path: `plugins[${i}].name`, message: `duplicate plugin name "${plugin.name}"` });
    declared.set(plugin.name, plugin);
  });
  const all = [...declared.values()];
  const handlers = all.filter((p) => p.kind === 'profile-handler');
  if (handlers.length > 1) problems.push({ path: 'plugins', message: `declares ${handlers.length} profile handlers (${handlers.map((h) => h.name).join(', ')}): at most one` });

  // llm-d: no schedulingProfiles → one profile "default" with every filter, scorer and picker.
  const written = d.schedulingProfiles;
  const profileSpecs = written ?? (all.some((p) => PROFILE_KINDS.has(p.kind)) ? [{ name: 'default', plugins: all.filter((p) => PROFILE_KINDS.has(p.kind) && p.kind !== 'producer').map((p) => ({ pluginRef: p.name, weight: undefined })) }] : []);
  if (handlers.length === 1 && profileSpecs.length > 1) {
    problems.push({ path: `plugins`, message: `single-profile-handler runs one profile, and ${profileSpecs.length} are defined (llm-d refuses this too): drop the handler or all profiles but one` });
  }
  const profiles: ProfileConfig[] = [];
  const profileNames = new Set<string>();
  profileSpecs.forEach((profile, j) => {
    const at = `schedulingProfiles[${j}]`;
    if (profileNames.has(profile.name)) problems.push({ path: `${at}.name`, message: `duplicate profile name "${profile.name}"` });
    profileNames.add(profile.name);
    let pickers = 0, scorers = 0;
    profile.plugins.forEach((ref, k) => {
      const plugin = declared.get(ref.pluginRef);
      const kind = plugin?.kind;
      if (kind === undefined) {
        if (!refused.has(ref.pluginRef)) problems.push({ path: `${at}.plugins[${k}].pluginRef`, message: `no plugin named "${ref.pluginRef}" in plugins` });
        return;
      }
      if (!PROFILE_KINDS.has(kind)) problems.push({ path: `${at}.plugins[${k}].pluginRef`, message: `"${ref.pluginRef}" is a ${kind}, declared for the whole config: a profile lists filters, scorers, pickers and producers` });
      if (kind !== 'scorer' && ref.weight !== undefined) problems.push({ path: `${at}.plugins[${k}].weight`, message: `only scorers take a weight ("${ref.pluginRef}" is a ${kind})` });
      if (kind === 'picker' && ++pickers === 2) problems.push({ path: `${at}.plugins[${k}].pluginRef`, message: 'a profile has at most one picker' });
      if (kind === 'scorer' && ++scorers === MAX_SCORERS + 1) problems.push({ path: `${at}.plugins[${k}].pluginRef`, message: `a profile has at most ${MAX_SCORERS} scorers` });
    });
    profiles.push({ name: profile.name, plugins: profile.plugins.map((r) => ({ ref: r.pluginRef, weight: r.weight ?? 1 })) });
  });
  checkPrefixProducers(all, profiles, refused, problems);

  deprecatedDetectorRef(d, declared, refused, problems, warnings);
  const saturation = saturationOf(d, all, problems);
  const flowControl = flowControlOf(d, declared, refused, problems, warnings);
  checkDataLayer(d, declared, refused, problems);
  for (const p of all) if (p.kind === 'data-layer' || p.kind === 'parser') warnings.push({ path: `plugins (${p.name})`, message: `${p.type} is accepted for what infergate does anyway: nothing to configure` });

  if (problems.length > 0) return { ok: false, problems };
  return {
    ok: true,
    warnings,
    config: {
      plugins: all.filter((p) => PROFILE_KINDS.has(p.kind)).map(({ name, type, parameters }) => ({ name, type, parameters })),
      profiles,
      saturation,
      metricsStaleAfterMs: d.metricsStaleAfter ?? 2000,
      featureGates: featureGateValues(d.featureGates),
      ...(flowControl ? { flowControl } : {}),
      servedEndpointHeaders: all.flatMap((p) => (p.header ? [p.header] : [])),
    },
  };
}

const PROFILE_KINDS: ReadonlySet<string> = new Set(['filter', 'scorer', 'picker', 'producer']);

/** prefixMatchInfoProducerName names a declared prefix producer (approximate or precise: llm-d's split form); token blocks do not feed the prefill-work scorer (it counts 64-byte blocks). */
function checkPrefixProducers(all: DeclaredPlugin[], profiles: ProfileConfig[], refused: Set<string>, problems: ConfigProblem[]): void {
  for (const p of all) {
    const producer = p.parameters.prefixMatchInfoProducerName;
    if (p.type !== 'prefix-cache-scorer' || typeof producer !== 'string' || refused.has(producer)) continue;
    const named = all.find((q) => q.name === producer);
    if (!named || (named.type !== 'approx-prefix-cache-producer' && named.type !== 'precise-prefix-cache-producer')) {
      problems.push({ path: `plugins (${p.name}).parameters.prefixMatchInfoProducerName`, message: `"${producer}" must name an approx-prefix-cache-producer or a precise-prefix-cache-producer declared in plugins` });
    }
  }
  // Judged by the producers that will run (as buildProfiles makes them): every declared one, and a scorer's own —
  // made when it carries producer parameters itself, or when none is declared for it to read.
  const declaredProducer = all.some((p) => p.type === 'approx-prefix-cache-producer');
  const ownKeys = pluginType('prefix-cache-scorer')?.producerParameters ?? [];
  const tokenProducer = all.find((p) => {
    if (p.type === 'approx-prefix-cache-producer') return usesTokenBlocks(p.parameters);
    if (p.type !== 'prefix-cache-scorer' || typeof p.parameters.prefixMatchInfoProducerName === 'string') return false;
    const own = Object.fromEntries(ownKeys.filter((k) => p.parameters[k] !== undefined).map((k) => [k, p.parameters[k]]));
    return (Object.keys(own).length > 0 || !declaredProducer) && usesTokenBlocks(own);
  });
  const prefillWork = profiles.some((profile) => profile.plugins.some((r) => all.find((p) => p.name === r.ref)?.type === 'prefill-work-scorer'));
  if (tokenProducer && prefillWork) {
    problems.push({
      path: `plugins (${tokenProducer.name})`,
      message: `prefill-work-scorer counts infergate's 64-byte prompt blocks, and this ${tokenProducer.type} would hash llm-d's token blocks (a configuration's default, as in llm-d): give it hashBlockSize: 64, or leave prefill-work-scorer out`,
    });
  }
}

/**
 * llm-d's top-level `saturationDetector: {pluginRef}` (endpointpickerconfig_types.go: "Deprecated: use
 * flowControl.saturationDetector instead. If both are set, the new field is used"): read as that field,
 * with a warning. It shares the block name with infergate's thresholds, which keep their meaning.
 */
function deprecatedDetectorRef(d: v.InferOutput<typeof Document>, declared: Map<string, DeclaredPlugin>, refused: Set<string>, problems: ConfigProblem[], warnings: ConfigProblem[]): void {
  const ref = d.saturationDetector?.pluginRef;
  if (ref === undefined) return;
  const path = 'saturationDetector.pluginRef';
  if (d.flowControl?.saturationDetector) {
    warnings.push({ path, message: `is deprecated in llm-d and ignored: flowControl.saturationDetector is set, and wins (write only flowControl.saturationDetector.pluginRef)` });
    return;
  }
  warnings.push({ path, message: `is deprecated in llm-d: read as flowControl.saturationDetector.pluginRef; write it there instead` });
  if (d.flowControl) {
    // flowControlOf checks it there (a declared saturation detector) and hands it on.
    d.flowControl.saturationDetector = { pluginRef: ref };
    return;
  }
  refIs(declared, refused, ref, path, 'saturation-detector', problems);
}

/** infergate's saturationDetector thresholds, or llm-d's utilization-detector plugin (same parameter names) — not both. */
function saturationOf(d: v.InferOutput<typeof Document>, all: DeclaredPlugin[], problems: ConfigProblem[]): SaturationConfig {
  const detectors = all.filter((p) => p.kind === 'saturation-detector');
  // The block's pluginRef (llm-d's deprecated spelling) names a detector; only its other fields are thresholds.
  const { pluginRef: _ref, ...block } = d.saturationDetector ?? {};
  const thresholdsSet = Object.values(block).some((x) => x !== undefined);
  if (detectors.length > 1) problems.push({ path: 'plugins', message: `declares ${detectors.length} saturation detectors (${detectors.map((p) => p.type).join(', ')}): keep one` });
  if (detectors.length && thresholdsSet) problems.push({ path: 'saturationDetector', message: 'and a utilization-detector plugin both set the saturation thresholds: keep one' });
  const fromPlugin = detectors[0]?.parameters ?? {};
  if (detectors[0]?.type === 'concurrency-detector') {
    // Requests in flight per endpoint, with llm-d's headroom (a burst allowance above the limit); the utilization thresholds stay.
    const { maxConcurrency = 100, headroom = 0 } = fromPlugin as { maxConcurrency?: number; headroom?: number };
    return { ...DEFAULT_SATURATION, ...stripUndefined(block), maxConcurrency: Math.floor(maxConcurrency * (1 + headroom)) } as SaturationConfig;
  }
  const { headroom: _none, ...thresholds } = fromPlugin as Record<string, unknown>;
  return { ...DEFAULT_SATURATION, ...stripUndefined(block), ...stripUndefined(thresholds) } as SaturationConfig;
}

function flowControlOf(d: v.InferOutput<typeof Document>, declared: Map<string, DeclaredPlugin>, refused: Set<string>, problems: ConfigProblem[], warnings: ConfigProblem[]): FlowControlConfig | undefined {
  if (!d.flowControl) return undefined;
  const plugins: FlowControlConfig['plugins'] = {};
  for (const { ref, path } of flowControlRefs(d.flowControl)) {
    const plugin = declared.get(ref);
    const detector = path.endsWith('saturationDetector.pluginRef');
    if (!plugin) {
      if (!refused.has(ref)) problems.push({ path, message: `no plugin named "${ref}" in plugins` });
    } else if (detector ? plugin.kind !== 'saturation-detector' : plugin.kind !== 'flow-control') {
      problems.push({ path, message: `"${ref}" is a ${plugin.kind}, not a ${detector ? 'saturation detector' : 'flow-control policy'}` });
    } else if (!detector && !path.endsWith(`${flowControlPolicyRole(plugin.type)}PolicyRef`)) {
      problems.push({ path, message: `"${ref}" is a ${plugin.type}: it does not fit this field` });
    } else plugins[ref] = { type: plugin.type, parameters: plugin.parameters };
  }
  const priorities = (d.flowControl.priorityBands ?? []).map((b) => b.priority);
  if (new Set(priorities).size !== priorities.length) problems.push({ path: 'flowControl.priorityBands', message: 'two bands have the same priority' });
  if (!d.featureGates.some((g) => g === 'flowControl' || g === 'flowControl=true')) {
    warnings.push({ path: 'flowControl', message: 'takes effect only with the flowControl feature gate (featureGates: [flowControl]), as in llm-d' });
  }
  return { ...d.flowControl, plugins };
}

function checkDataLayer(d: v.InferOutput<typeof Document>, declared: Map<string, DeclaredPlugin>, refused: Set<string>, problems: ConfigProblem[]): void {
  const layer = d.dataLayer;
  if (layer) {
    for (const key of ['discovery', 'peerDiscovery', 'crossReplicaSyncerPluginRef', 'crossReplicaSyncInterval'] as const) {
      if (layer[key] !== undefined) problems.push({ path: `dataLayer.${key}`, message: 'is not supported: infergate finds endpoints with --endpoints FILE or --kubernetes, and its replicas share no per-endpoint state' });
    }
    layer.sources.forEach((s, i) => {
      refIs(declared, refused, s.pluginRef, `dataLayer.sources[${i}].pluginRef`, 'data-layer', problems);
      s.extractors.forEach((e, k) => {
        // llm-d's precise producer is also an extractor of endpoint notifications (the KV index follows pods joining and leaving).
        if (declared.get(e.pluginRef)?.type === 'precise-prefix-cache-producer') return;
        refIs(declared, refused, e.pluginRef, `dataLayer.sources[${i}].extractors[${k}].pluginRef`, 'data-layer', problems);
      });
    });
  }
  d.requestHandler?.parsers.forEach((p, i) => refIs(declared, refused, p.pluginRef, `requestHandler.parsers[${i}].pluginRef`, 'parser', problems));
}

function refIs(declared: Map<string, DeclaredPlugin>, refused: Set<string>, ref: string, path: string, kind: string, problems: ConfigProblem[]): void {
  const plugin = declared.get(ref);
  if (!plugin) {
    if (!refused.has(ref)) problems.push({ path, message: `no plugin named "${ref}" in plugins` });
  } else if (plugin.kind !== kind) problems.push({ path, message: `"${ref}" is a ${plugin.kind}, not a ${kind} plugin` });
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, x]) => x !== undefined)) as Partial<T>;
}
