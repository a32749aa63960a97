/**
 * Simulated pods for the simulated-time mode: one `SimEngine` per pod, the
 * `Pool` objects the scheduler sees, and the scrape that turns engine state
 * into `PoolSnapshot`s (the numbers the agent would read from /metrics).
 */
import type { Endpoint, PoolSnapshot } from '../../src/endpoints/types.ts';
import type { Pool } from '../../src/routing/schema.ts';
import { resolveEngineConfig, SimEngine } from '../../src/sim/index.ts';
import type { EngineListener } from '../../src/sim/engine.ts';
import type { PoolSpec } from './types.ts';

export interface SimPod {
  engine: SimEngine;
  /** Index in the cluster's flat pod list. */
  index: number;
  pool: number;
  id: string;
  address: string;
}

export class SimCluster {
  readonly pods: SimPod[] = [];
  readonly pools: Pool[];
  readonly byPoolName = new Map<string, number>();
  readonly podById = new Map<string, SimPod>();
  readonly snapshots: PoolSnapshot[];
  readonly #podsOfPool: SimPod[][];

  constructor(specs: readonly PoolSpec[], profile: string | undefined, listener: EngineListener) {
    this.pools = specs.map((s) => ({ name: s.name, selector: { pool: s.name }, targetPorts: [8000], appProtocol: 'http' as const, failureMode: 'FailClose' as const, profile }));
    this.#podsOfPool = specs.map((spec, p) => {
      this.byPoolName.set(spec.name, p);
      const config = resolveEngineConfig(spec.engine);
      return Array.from({ length: spec.pods }, (_, i) => {
        const address = `10.${p}.${i >> 8}.${i & 255}`;
        const pod: SimPod = { engine: new SimEngine(config, listener), index: this.pods.length, pool: p, id: `${address}:8000`, address };
        this.pods.push(pod);
        this.podById.set(pod.id, pod);
        return pod;
      });
    });
    this.snapshots = this.pools.map((pool) => ({ pool: pool.name, endpoints: [], at: 0, hasMetrics: true }));
  }

  /** Reads every pod's metrics at `now`, as one agent scrape round delivers them. */
  scrape(now: number): void {
    this.#podsOfPool.forEach((pods, p) => {
      const endpoints: Endpoint[] = pods.map((pod) => {
        const e = pod.engine;
        const cfg = e.config;
        return {
          id: pod.id,
          address: pod.address,
          port: 8000,
          labels: { pool: this.pools[p]!.name },
          ready: true,
          engine: 'vllm',
          scrapedAt: now,
          metrics: {
            waiting: e.numWaiting,
            running: e.numRunning,
            kvUsage: e.kv.usage,
            activeAdapters: e.runningAdapters.size > 0 ? [...e.runningAdapters.keys()] : [],
            waitingAdapters: e.waitingAdapters.size > 0 ? [...e.waitingAdapters.keys()] : [],
            maxAdapters: cfg.maxLoras,
            blockSize: cfg.blockSize,
            totalBlocks: cfg.numGpuBlocks,
          },
        };
      });
      this.snapshots[p] = { pool: this.pools[p]!.name, endpoints, at: now, hasMetrics: true };
    });
  }
}
