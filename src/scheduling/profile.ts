/**
 * Scheduling profiles: producers → filters → weighted scorers → picker,
 * built from a validated configuration. Two are built in: `default` (infergate's) and
 * `gie-default` (the Gateway API Inference Extension's default, kept for
 * comparison); a configuration's own profiles are added, and replace a
 * built-in of the same name.
 */
import type { EndpointPickerConfig } from './config.ts';
import { validateSchedulerConfig } from './config.ts';
import { pluginType } from './plugins/registry.ts';
import { createMaxScorePicker } from './plugins/picker/pickers.ts';
import { APPROX_PREFIX_CACHE_PRODUCER, configuredParameters } from './plugins/producer/approx-prefix-cache.ts';
import type { SchedulingServices } from './prompt-tokens.ts';
import type { FilterPlugin, PickerPlugin, Plugin, ProducerPlugin, ScorerPlugin } from './plugins/types.ts';

export interface Profile {
  name: string;
  /** In the order they run (a producer after those it reads). */
  producers: ProducerPlugin[];
  filters: FilterPlugin[];
  scorers: Array<{ plugin: ScorerPlugin; weight: number }>;
  picker: PickerPlugin;
}

export const DEFAULT_PROFILE = 'default';
export const GIE_DEFAULT_PROFILE = 'gie-default';

/**
 * infergate's default adds to GIE's: a staleness filter (stale numbers are
 * worse than none), the in-flight scorer (corrects the scrape lag that makes
 * stale-metric pickers hot-spot), LoRA affinity (an adapter swap costs far
 * more than a slightly longer queue, so it outweighs the others) and the
 * prefill-work scorer (time to first token is the prefill queued ahead plus
 * the prompt's own uncached part: counted in tokens, it weighs a prefix match
 * against the work waiting behind it). Its prefix index matches whole prompts
 * (2048 blocks = 128 KiB, not GIE's 16 KiB): a conversation's history behind a
 * long system prompt is what tells its holder apart from the other pods that
 * hold only the system prompt.
 *
 * Its parameters are written out where a configuration file's defaults are
 * llm-d's and infergate's differ: `hashBlockSize: 64` keeps infergate's
 * 64-byte prefix blocks (a file without it gets llm-d's token blocks), and the
 * LoRA scorer keeps infergate's classes (BUILT_IN_CLASSES).
 */
const BUILT_IN = {
  plugins: [
    { type: 'fresh-metrics-filter' },
    { type: 'queue-scorer' },
    { type: 'kv-cache-utilization-scorer' },
    { type: 'prefix-cache-scorer', parameters: { hashBlockSize: 64, maxPrefixBlocksToMatch: 2048 } },
    { type: 'in-flight-scorer' },
    { type: 'lora-affinity-scorer' },
    { type: 'prefill-work-scorer', parameters: { minRangeTokens: 4096 } },
    { type: 'max-score-picker' },
    // GIE's prefix-cache scorer as GIE configures it (256 blocks), for the gie-default profile.
    { type: 'prefix-cache-scorer', name: 'gie-prefix-cache-scorer', parameters: { hashBlockSize: 64, maxPrefixBlocksToMatch: 256 } },
  ],
  schedulingProfiles: [
    {
      name: DEFAULT_PROFILE,
      plugins: [
        { pluginRef: 'fresh-metrics-filter' },
        { pluginRef: 'queue-scorer', weight: 2 },
        { pluginRef: 'kv-cache-utilization-scorer', weight: 2 },
        { pluginRef: 'prefix-cache-scorer', weight: 3 },
        { pluginRef: 'in-flight-scorer', weight: 2 },
        // ×6, not ×2: on the multi-lora benchmark a ×2 adapter preference lost to the prefix
        // match on an adapter's old pod and sent requests to pods with full adapter slots
        // (p99 TTFT 1040 → 642 ms at 80% load; docs/routing-benchmark.md). Base-model
        // requests score 1.0 everywhere (infergate's classes, below), so nothing else changes.
        { pluginRef: 'lora-affinity-scorer', weight: 6 },
        // ×16 over a 4096-token span: 4096 tokens (≈ 100 ms of prefill) less work ahead is worth
        // 16 points, more than any other scorer can give (shared-prefix p99 TTFT 201 → 99 ms at
        // 80% load, 245 → 129 ms at 95%, against the profile without it; docs/routing-benchmark.md).
        { pluginRef: 'prefill-work-scorer', weight: 16 },
        { pluginRef: 'max-score-picker' },
      ],
    },
    {
      name: GIE_DEFAULT_PROFILE,
      plugins: [
        { pluginRef: 'queue-scorer', weight: 2 },
        { pluginRef: 'kv-cache-utilization-scorer', weight: 2 },
        { pluginRef: 'gie-prefix-cache-scorer', weight: 3 },
        { pluginRef: 'max-score-picker' },
      ],
    },
  ],
};

/**
 * The built-in LoRA scorer's classes are infergate's, not llm-d's (a
 * configuration file gets llm-d's): a model no endpoint lists as an adapter
 * scores 1.0 everywhere, and room to load is fewer active adapters than the
 * maximum, or a maximum not reported. Not a configuration field, so set here.
 */
const BUILT_IN_CLASSES: Record<string, Record<string, unknown>> = { 'lora-affinity-scorer': { builtInClasses: true } };

/** The built-in configuration (validated like any other, so it cannot drift from the schema). */
export function builtInConfig(): EndpointPickerConfig {
  const result = validateSchedulerConfig(BUILT_IN);
  if (!result.ok) throw new Error(`built-in scheduling profiles are invalid: ${JSON.stringify(result.problems)}`);
  const config = result.config;
  return { ...config, plugins: config.plugins.map((p) => (BUILT_IN_CLASSES[p.name] ? { ...p, parameters: { ...p.parameters, ...BUILT_IN_CLASSES[p.name] } } : p)) };
}

/**
 * Instantiate a configuration's plugins and assemble its profiles. A scorer
 * that reads a producer's data gets one: the producer of that type the
 * configuration declares, or — when the scorer carries the producer's
 * parameters itself, or none is declared — one of its own, shared by every
 * profile that uses the scorer (llm-d auto-creates its default producer the
 * same way). An approximate prefix producer reads its parameters as llm-d
 * does: llm-d's defaults fill what they leave out, unless `hashBlockSize`
 * asks for infergate's 64-byte blocks.
 */
export function buildProfiles(config: EndpointPickerConfig, services: SchedulingServices = {}): Map<string, Profile> {
  const plugins = new Map<string, Plugin>();
  const specs = new Map(config.plugins.map((p) => [p.name, p]));
  const create = (type: string, name: string, parameters: Record<string, unknown>): Plugin =>
    pluginType(type)!.create(name, type === APPROX_PREFIX_CACHE_PRODUCER ? { ...configuredParameters(parameters) } : parameters, services);
  for (const p of config.plugins) plugins.set(p.name, create(p.type, p.name, p.parameters));
  const ownProducers = new Map<string, ProducerPlugin>();
  const producerFor = (scorer: ScorerPlugin): ProducerPlugin => {
    const type = scorer.requires!;
    const spec = specs.get(scorer.name)!;
    const own = pluginType(spec.type)!.producerParameters?.filter((k) => spec.parameters[k] !== undefined) ?? [];
    // llm-d's prefixMatchInfoProducerName names the producer; else the one of the type the scorer requires.
    const named = spec.parameters.prefixMatchInfoProducerName;
    const declared = typeof named === 'string' ? config.plugins.find((p) => p.name === named) : config.plugins.find((p) => p.type === type);
    if (declared && own.length === 0) return plugins.get(declared.name) as ProducerPlugin;
    let producer = ownProducers.get(scorer.name);
    if (!producer) {
      const parameters = Object.fromEntries(own.map((k) => [k, spec.parameters[k]]));
      producer = create(type, `${scorer.name}/${type}`, parameters) as ProducerPlugin;
      ownProducers.set(scorer.name, producer);
    }
    return producer;
  };
  const profiles = new Map<string, Profile>();
  for (const spec of config.profiles) {
    const profile: Profile = { name: spec.name, producers: [], filters: [], scorers: [], picker: createMaxScorePicker() };
    const producers = new Set<ProducerPlugin>();
    for (const ref of spec.plugins) {
      const plugin = plugins.get(ref.ref)!;
      if (plugin.kind === 'producer') producers.add(plugin);
      else if (plugin.kind === 'filter') profile.filters.push(plugin);
      else if (plugin.kind === 'scorer') {
        profile.scorers.push({ plugin, weight: ref.weight });
        if (plugin.requires) producers.add(producerFor(plugin));
      } else profile.picker = plugin;
    }
    profile.producers = ordered([...producers]);
    profiles.set(spec.name, profile);
  }
  return profiles;
}

/** Producers in an order where each runs after the types it names in `after`. */
function ordered(producers: ProducerPlugin[]): ProducerPlugin[] {
  const out: ProducerPlugin[] = [];
  const visit = (p: ProducerPlugin, depth: number) => {
    if (out.includes(p) || depth > producers.length) return;
    for (const type of p.after ?? []) for (const q of producers) if (q.type === type) visit(q, depth + 1);
    out.push(p);
  };
  for (const p of producers) visit(p, 0);
  return out;
}
