/**
 * The endpoint picker's own metrics, with the Inference Extension's names:
 * each plugin's duration (`inference_extension_plugin_duration_seconds`, by
 * extension point, plugin type and name; the kernel, which runs every
 * scorer's arithmetic and the pick in one call, is the Picker), the picked
 * endpoint's prefix hits, and the prefix indexes' size. Per process, so they
 * add up across `--workers` (each worker keeps its own approximate index).
 */
import { BUCKETS, type Registry } from '../observability/exposition.ts';
import { BLOCK_BYTES } from '../scheduling/kernel/layout.ts';
import type { PluginTiming } from '../scheduling/timing.ts';

/** GIE's bounds for prefix hit bytes: 0, 16, 32, 64 … 65536. */
const HIT_BYTES = [0, ...Array.from({ length: 13 }, (_, i) => 16 * 2 ** i)];

export interface ObservablePicker {
  observe(timing: PluginTiming): void;
  prefixIndexSize(): number;
}

export function observeScheduler(registry: Registry, picker: ObservablePicker): void {
  const plugins = registry.histogram('inference_extension_plugin_duration_seconds', 'Time each scheduling plugin took per decision.', ['extension_point', 'plugin_type', 'plugin_name'], BUCKETS.scheduler);
  const size = registry.gauge('inference_extension_prefix_indexer_size', 'Entries (block hash, endpoint) the approximate prefix indexes hold.');
  const ratio = registry.histogram('inference_extension_prefix_indexer_hit_ratio', "Share of the prompt's blocks the picked endpoint held.", [], BUCKETS.hitRatio);
  const bytes = registry.histogram('inference_extension_prefix_indexer_hit_bytes', 'Prompt bytes the picked endpoint held (matched blocks × 64 bytes).', [], HIT_BYTES);
  const ratioAll = ratio.labels();
  const bytesAll = bytes.labels();
  registry.collect(() => void (size.labels().value = picker.prefixIndexSize()));
  picker.observe({
    plugin: (point, type, name) => plugins.labels(point, type, name),
    prefixHit(matched, total) {
      ratioAll.observe(matched / total);
      bytesAll.observe(matched * BLOCK_BYTES);
    },
  });
}
