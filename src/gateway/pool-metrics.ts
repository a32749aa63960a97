/**
 * The pool gauges of the Inference Extension, read from the endpoint source
 * when /metrics is scraped (nothing on the request path): per pool the
 * average KV-cache use, queue and running requests over its pods with
 * metrics, how many pods are ready, and each pod's queue; and
 * `inference_extension_info`. Rendered by the process that holds the endpoint
 * source — a single gateway, or the primary of a `--workers N` one — so the
 * values are never multiplied by the number of workers.
 */
import type { EndpointSource } from '../endpoints/types.ts';
import { Registry } from '../observability/exposition.ts';
import type { Pool } from '../routing/schema.ts';

export interface BuildInfo {
  /** The source commit, when the build knows it. */
  commit: string;
  /** The release or version the build is of. */
  buildRef: string;
}

export interface PoolMetricsSource {
  /** The pools of the active routing table. */
  pools(): readonly Pool[];
  endpoints: Pick<EndpointSource, 'snapshot'>;
}

export function poolMetrics(source: PoolMetricsSource, info: BuildInfo): Registry {
  const registry = new Registry();
  const kv = registry.gauge('inference_pool_average_kv_cache_utilization', "Mean KV-cache use (0..1) of the pool's pods with metrics.", ['name']);
  const queue = registry.gauge('inference_pool_average_queue_size', "Mean requests waiting on the pool's pods with metrics.", ['name']);
  const running = registry.gauge('inference_pool_average_running_requests', "Mean requests running on the pool's pods with metrics.", ['name']);
  const ready = registry.gauge('inference_pool_ready_pods', 'Pods of the pool that are ready.', ['name']);
  const perPod = registry.gauge('inference_pool_per_pod_queue_size', 'Requests waiting on each pod of the pool.', ['name', 'model_server_pod']);
  const build = registry.gauge('inference_extension_info', 'Build information; the value is 1.', ['commit', 'build_ref']);
  build.labels(info.commit, info.buildRef).value = 1;

  registry.collect(() => {
    for (const f of [kv, queue, running, ready, perPod]) f.clear();
    for (const pool of source.pools()) {
      const snapshot = source.endpoints.snapshot(pool);
      let n = 0;
      let sumKv = 0;
      let sumQueue = 0;
      let sumRunning = 0;
      let readyPods = 0;
      for (const e of snapshot.endpoints) {
        if (e.ready) readyPods++;
        const m = e.metrics;
        if (!m) continue;
        n++;
        sumKv += m.kvUsage;
        sumQueue += m.waiting;
        sumRunning += m.running;
        perPod.labels(pool.name, e.id).value = m.waiting;
      }
      ready.labels(pool.name).value = readyPods;
      if (n > 0) {
        kv.labels(pool.name).value = sumKv / n;
        queue.labels(pool.name).value = sumQueue / n;
        running.labels(pool.name).value = sumRunning / n;
      }
    }
  });
  return registry;
}
