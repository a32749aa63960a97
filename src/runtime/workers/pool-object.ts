/**
 * The pool's Durable Object: one per pool (by name), so every isolate in
 * every location sees the same snapshot, in-flight counts and prefix index.
 * Isolates call it over RPC: `decide` (route + fallbacks), then
 * `dispatched` for a fallback tried and `completed` when the answer ends.
 */
import { DurableObject } from 'cloudflare:workers';
import kernel from '../../../build/kernel.wasm';
import type { Endpoint } from '../../endpoints/types.ts';
import type { Pool } from '../../routing/schema.ts';
import type { Outcome, Readiness } from '../../scheduling/endpoint-scheduling.ts';
import type { Decision, SchedulingRequest } from '../../scheduling/scheduler.ts';
import type { ServedModelEntry } from '../../scheduling/served-models.ts';
import { edgeConfig } from './config.ts';
import { agentClient, transport, workerFetch } from './connect.ts';
import { KvIndexReplica } from '../../endpoints/kv-index-replica.ts';
import type { SchedulingServices } from '../../scheduling/index.ts';
import { PodTokenizer } from '../../tokenize/pod-tokenizer.ts';
import { PoolDecider } from './pool-decider.ts';
import type { WorkerEnv } from './types.ts';

/** What an isolate sees of the object (RPC methods answer promises). */
export interface PoolObjectStub {
  decide(pool: Pool, request: SchedulingRequest, counts?: boolean): Promise<Decision>;
  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): Promise<void>;
  completed(pool: Pool, endpointId: string, key: string, outcome: Outcome): Promise<void>;
  readiness(pool: Pool): Promise<Readiness>;
  servedModels(pool: Pool): Promise<ServedModelEntry[]>;
}

export class PoolObject extends DurableObject<WorkerEnv> implements PoolObjectStub {
  #decider: PoolDecider | undefined;

  #pool(): PoolDecider {
    if (!this.#decider) {
      const config = edgeConfig(this.env);
      this.#decider = new PoolDecider({
        agent: config.agentUrl ? agentClient(config.agentUrl, config.agentToken) : undefined,
        kernel,
        scrapeIntervalMs: config.scrapeIntervalMs,
        waitUntil: (p) => this.ctx.waitUntil(p),
        services: preciseServices(config.agentUrl, config.agentToken, config.kvEvents),
        config: config.schedulingConfig,
      });
    }
    return this.#decider;
  }

  decide(pool: Pool, request: SchedulingRequest, counts = true): Promise<Decision> {
    return this.#pool().decide(pool, request, counts);
  }

  async dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): Promise<void> {
    this.#pool().dispatched(pool, endpoint, request);
  }

  async completed(pool: Pool, endpointId: string, key: string, outcome: Outcome): Promise<void> {
    this.#pool().completed(pool, endpointId, key, outcome);
  }

  readiness(pool: Pool): Promise<Readiness> {
    return this.#pool().readiness(pool);
  }

  servedModels(pool: Pool): Promise<ServedModelEntry[]> {
    return this.#pool().servedModels(pool);
  }
}

/**
 * Precise prefix routing in the pool's object: a copy of the agent's KV index
 * kept by WatchKvIndex while the object lives (a Durable Object may hold a
 * stream across requests; an isolate may not, so `isolate` mode has none),
 * and the pods' /tokenize. Until the copy is complete the scorer uses the
 * approximate index and says so.
 */
function preciseServices(agentUrl: string | undefined, agentToken: string | undefined, kvEvents: boolean): SchedulingServices | undefined {
  if (!kvEvents || !agentUrl) return undefined;
  return { kvIndex: new KvIndexReplica({ agentUrl, transport: transport(agentUrl, agentToken) }), tokenizer: new PodTokenizer({ fetch: workerFetch }) };
}
