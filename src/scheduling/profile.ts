/**
 * Scheduling profiles: filters → weighted scorers → picker, built from a
 * validated configuration. Two are built in: `default` (infergate's) and
 * `gie-default` (the Gateway API Inference Extension's default, kept for
 * comparison); a configuration's own profiles are added, and replace a
 * built-in of the same name.
 */
import type { EndpointPickerConfig } from './config.ts';
import { validateSchedulerConfig } from './config.ts';
import { pluginType } from './plugins/registry.ts';
import { createMaxScorePicker } from './plugins/picker/pickers.ts';
import type { FilterPlugin, PickerPlugin, Plugin, ScorerPlugin } from './plugins/types.ts';

export interface Profile {
  name: string;
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
 */
const BUILT_IN = {
  plugins: [
    { type: 'fresh-metrics-filter' },
    { type: 'queue-scorer' },
    { type: 'kv-cache-utilization-scorer' },
    { type: 'prefix-cache-scorer', parameters: { maxPrefixBlocksToMatch: 2048 } },
    { type: 'in-flight-scorer' },
    { type: 'lora-affinity-scorer' },
    { type: 'prefill-work-scorer', parameters: { minRangeTokens: 4096 } },
    { type: 'max-score-picker' },
    // GIE's prefix-cache scorer as GIE configures it (256 blocks), for the gie-default profile.
    { type: 'prefix-cache-scorer', name: 'gie-prefix-cache-scorer' },
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
        // requests score 1.0 everywhere, so nothing else changes.
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

/** The built-in configuration (validated like any other, so it cannot drift from the schema). */
export function builtInConfig(): EndpointPickerConfig {
  const result = validateSchedulerConfig(BUILT_IN);
  if (!result.ok) throw new Error(`built-in scheduling profiles are invalid: ${JSON.stringify(result.problems)}`);
  return result.config;
}

/** Instantiate a configuration's plugins and assemble its profiles. */
export function buildProfiles(config: EndpointPickerConfig): Map<string, Profile> {
  const plugins = new Map<string, Plugin>();
  for (const p of config.plugins) plugins.set(p.name, pluginType(p.type)!.create(p.name, p.parameters));
  const profiles = new Map<string, Profile>();
  for (const spec of config.profiles) {
    const profile: Profile = { name: spec.name, filters: [], scorers: [], picker: createMaxScorePicker() };
    for (const ref of spec.plugins) {
      const plugin = plugins.get(ref.ref)!;
      if (plugin.kind === 'filter') profile.filters.push(plugin);
      else if (plugin.kind === 'scorer') profile.scorers.push({ plugin, weight: ref.weight });
      else profile.picker = plugin;
    }
    profiles.set(spec.name, profile);
  }
  return profiles;
}
