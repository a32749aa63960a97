/**
 * What the endpoint picker reports about its own work when asked: how long
 * each plugin took (the Inference Extension's
 * `inference_extension_plugin_duration_seconds`, by extension point, plugin
 * type and name) and how much of the prompt the picked endpoint held
 * (`inference_extension_prefix_indexer_hit_ratio`). A port, so scheduling
 * knows nothing of Prometheus; src/gateway/scheduler-metrics.ts implements it.
 */

/** Where a duration is recorded; resolved once per plugin, then only `observe` runs per decision. */
export interface DurationSink {
  observe(seconds: number): void;
}

export interface PluginTiming {
  /** The sink for one plugin (`extensionPoint`: Producer, Filter, Scorer, Picker). */
  plugin(extensionPoint: string, type: string, name: string): DurationSink;
  /** The picked endpoint held `matched` of the prompt's `total` blocks (profiles that score prefixes). */
  prefixHit(matched: number, total: number): void;
}
