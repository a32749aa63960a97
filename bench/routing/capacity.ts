/**
 * Measuring cluster capacity before choosing load levels. For each pool, one
 * pod is fed what round-robin would give it — every N-th request of the
 * workload (N = pods in the pool), in order, so prefix and adapter mixes are
 * those of a cache-oblivious router. The highest rate the pod sustains — the
 * median request arriving in the second half of the steady window waits at
 * most 250 ms before it is admitted into the running batch (an overloaded
 * queue grows without bound, so this separates cleanly), and it completes
 * ≥ 90% as many requests/s as arrive — is found by doubling then bisecting; that × the pool's pods is the pool's capacity, and 100% load
 * is that rate. (Throughput at heavy overload is not used: with deep queues
 * an engine batches better — e.g. many requests of the same LoRA adapter —
 * than it can at any latency a user would accept.)
 */
import { runSimulated } from './sim-loop.ts';
import { STRATEGIES } from './strategies/index.ts';
import type { Workload, WorkloadParams } from './types.ts';

export interface Capacity {
  /** Saturation throughput of one pod, req/s, per pool. */
  perPod: Record<string, number>;
  /** Requests/s per pool at 100% load. */
  poolRates: Record<string, number>;
  /** Sum over pools. */
  total: number;
}

const roundRobin = STRATEGIES.find((s) => s.name === 'round-robin')!;

/** A pod keeps up while the median request of the window's second half waits at most this long to be admitted. */
const QUEUE_BOUND_MS = 250;

/** Does one pod keep up with what round-robin would send it at `perPodRate`? Returns its throughput and the verdict. */
function probe(make: (perPodRate: number) => Workload, pool: string, seed: number, perPodRate: number): { ok: boolean; throughput: number } {
  const full = make(perPodRate);
  const spec = full.pools.find((p) => p.name === pool)!;
  const mine = full.requests.filter((r) => r.pool === pool).filter((_, i) => i % spec.pods === 0);
  const single: Workload = { ...full, pools: [{ ...spec, pods: 1 }], requests: mine };
  const m = runSimulated(single, roundRobin, { seed, drainMs: 30_000 });
  const offered = (mine.filter((r) => r.at >= full.warmupMs).length * 1000) / (full.durationMs - full.warmupMs);
  return { ok: m.completedPerS >= 0.9 * offered && m.lateQueueP50 <= QUEUE_BOUND_MS, throughput: offered };
}

/** One pod's sustainable rate (requests/s arriving in the steady window), within ~3%: double until it fails, then bisect. */
export function podSaturation(make: (perPodRate: number) => Workload, pool: string, seed: number, startRate = 2): number {
  let lo = 0;
  let hi = startRate;
  let loThroughput = 0;
  for (let i = 0; i < 10; i++) {
    const r = probe(make, pool, seed, hi);
    if (!r.ok) break;
    [lo, loThroughput] = [hi, r.throughput];
    hi *= 2;
  }
  for (let i = 0; i < 6 && hi - lo > 0.03 * hi; i++) {
    const mid = (lo + hi) / 2;
    const r = probe(make, pool, seed, mid);
    if (r.ok) [lo, loThroughput] = [mid, r.throughput];
    else hi = mid;
  }
  return loThroughput > 0 ? loThroughput : lo;
}

export function measureCapacity(generate: (p: WorkloadParams) => Workload, base: WorkloadParams): Capacity {
  const probe = generate({ ...base, rate: 1, forCapacity: true });
  const perPod: Record<string, number> = {};
  const poolRates: Record<string, number> = {};
  for (const pool of probe.pools) {
    const make = (perPodRate: number) => {
      const rates: Record<string, number> = {};
      for (const p of probe.pools) rates[p.name] = perPodRate * p.pods;
      return generate({ ...base, rate: perPodRate * pool.pods * probe.pools.length, poolRates: rates, forCapacity: true });
    };
    perPod[pool.name] = podSaturation(make, pool.name, base.seed);
    poolRates[pool.name] = perPod[pool.name]! * pool.pods;
  }
  return { perPod, poolRates, total: Object.values(poolRates).reduce((a, b) => a + b, 0) };
}
