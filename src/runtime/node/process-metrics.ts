/**
 * The process's own metrics on Node, from prom-client's default collectors:
 * `process_cpu_seconds_total`, `process_resident_memory_bytes`,
 * `process_start_time_seconds`, open file descriptors, and `nodejs_*` (event
 * loop lag, heap, GC, active handles) — the families a Node service's
 * Grafana boards already read. prom-client measures these with perf_hooks and
 * v8 statistics that would be tedious to rewrite, and it is Node-only, so it
 * lives here; the gateway's and agent's own families use the core's small
 * exposition (src/observability/exposition.ts). In a `--workers N` gateway
 * only the primary's process is shown: these gauges do not add up.
 */
import { collectDefaultMetrics, Registry } from 'prom-client';

export function processMetrics(): () => Promise<string> {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  // Its page separates families with blank lines; the admin page appends it to others, so it is kept compact.
  return async () => (await registry.metrics()).replace(/\n{2,}/g, '\n').replace(/^\n/, '');
}
