/**
 * A catalogue of every plugin type llm-d's router (llm-d/llm-d-router) registers, so the
 * EndpointPickerConfig loader can refuse a type infergate does not have by its llm-d name, with what
 * it does and the nearest infergate plugin — never a generic "unknown plugin type".
 *
 * Facts only, gathered from the published code (type strings, parameter names and defaults); the
 * reference is `registerInTreePlugins` in llm-d-router's `cmd/epp/runner/runner.go` and each plugin's
 * README and Go types. Where and at which commit each fact was read: docs/compatibility-sources.md.
 * The tables for humans, with what infergate does for each: docs/compatibility.md.
 *
 * Runtime-neutral data: no imports but types.
 */
import { LLMD_SCHEDULING_PLUGINS } from './llmd-plugins-scheduling.ts';
import { LLMD_RUNTIME_PLUGINS } from './llmd-plugins-runtime.ts';

/** The extension point a plugin type serves in llm-d's router. */
export type LlmdPluginRole =
  | 'screener' // runs before scheduling; may restrict or refuse (llm-d "Screener")
  | 'filter'
  | 'scorer'
  | 'picker'
  | 'profile-handler'
  | 'decider' // consulted by disagg-profile-handler: run the prefill/encode profile or not
  | 'data-producer' // computes per-request data other plugins read (prefix matches, tokens, latency…)
  | 'data-source' // scrapes or receives endpoint data (dataLayer.sources)
  | 'data-extractor' // turns a source's payload into endpoint attributes (dataLayer…extractors)
  | 'endpoint-discovery' // dataLayer.discovery: where endpoints come from
  | 'admitter' // admits or rejects a request before it is queued/scheduled
  | 'saturation-detector'
  | 'fairness-policy' // flowControl: which flow of a priority band dispatches next
  | 'ordering-policy' // flowControl: order of requests inside a flow queue
  | 'usage-limit-policy' // flowControl: how much of the pool a band may use
  | 'eviction-policy' // flowControl: what is evicted when eviction is enabled
  | 'request-control' // pre-request / response plugins
  | 'parser' // requestHandler.parsers: request-body protocol parsers
  | 'responder' // answers a request itself (e.g. GET /v1/models)
  | 'test'; // conformance / test helpers

/**
 * `beta`: registered and available by default. `alpha`: registered, but llm-d only loads it with the
 * experimental-plugins switch (see docs/compatibility.md §a — flag vs feature gate is ambiguous).
 * `deprecated`: an old name still accepted by llm-d, see `replacedBy`.
 */
export type LlmdStability = 'beta' | 'alpha' | 'deprecated';

export interface LlmdParameter {
  /** The key as it is written under `parameters:`; nested keys are dotted (`vllm.url`). */
  readonly name: string;
  /** JSON/YAML type: string, integer, number, boolean, duration ("2s"), object, or `a|b` for enums. */
  readonly type: string;
  /** The default llm-d applies when the key is absent; absent here when there is none or it is unknown. */
  readonly default?: string;
  /** Required by llm-d (config refused without it). */
  readonly required?: boolean;
  readonly note?: string;
}

export interface LlmdPluginInfo {
  /** The type string as configs write it (`plugins[].type`). */
  readonly type: string;
  readonly role: LlmdPluginRole;
  readonly stability: LlmdStability;
  /** One line on what it does. */
  readonly does: string;
  readonly parameters: readonly LlmdParameter[];
  /** The infergate plugin type closest in effect (a name from plugins/registry.ts), when there is one. */
  readonly nearest?: string;
  /** What infergate has instead, when that is not a plugin (a config block, a built-in behaviour). */
  readonly infergate?: string;
  /** For a deprecated name: the type llm-d maps it to or tells the user to use. */
  readonly replacedBy?: string;
  /** Published in llm-d's docs/history but not registered by the reference runner, or otherwise unsure. */
  readonly caveat?: string;
}

/** Every llm-d plugin type, scheduling plugins first, then data, flow control and request handling. */
export const LLMD_PLUGINS: readonly LlmdPluginInfo[] = [...LLMD_SCHEDULING_PLUGINS, ...LLMD_RUNTIME_PLUGINS];

const BY_TYPE: ReadonlyMap<string, LlmdPluginInfo> = new Map(LLMD_PLUGINS.map((p) => [p.type, p]));

/** The llm-d plugin type with this exact name (llm-d's names are exact; no short forms). */
export function llmdPlugin(type: string): LlmdPluginInfo | undefined {
  return BY_TYPE.get(type);
}

/**
 * One sentence for refusing an llm-d plugin type infergate does not have, e.g.
 * `"load-aware-scorer" is an llm-d scorer infergate does not have: scores … Nearest in infergate: queue-scorer.`
 */
export function describeUnsupportedLlmdPlugin(info: LlmdPluginInfo): string {
  const parts = [`"${info.type}" is an llm-d ${info.role} infergate does not have: ${info.does}.`];
  if (info.replacedBy) parts.push(`llm-d replaced it with "${info.replacedBy}".`);
  if (info.nearest) parts.push(`Nearest in infergate: ${info.nearest}${info.infergate ? ` (${info.infergate})` : ''}.`);
  else if (info.infergate) parts.push(`In infergate: ${info.infergate}.`);
  else parts.push('infergate has nothing like it.');
  return parts.join(' ');
}
