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
import { edgeConfig } from './config.ts';
import { agentClient } from './connect.ts';
import { PoolDecider } from './pool-decider.ts';
import type { WorkerEnv } from './types.ts';

/** What an isolate sees of the object (RPC methods answer promises). */
export interface PoolObjectStub {
  decide(pool: Pool, request: SchedulingRequest): Promise<Decision>;
  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): Promise<void>;
  completed(pool: Pool, endpointId: string, requestId: string, outcome: Outcome): Promise<void>;
  readiness(pool: Pool): Promise<Readiness>;
}

export class PoolObject extends DurableObject<WorkerEnv> implements PoolObjectStub {
  #decider: PoolDecider | undefined;

  #pool(): PoolDecider {
    if (!this.#decider) {
      const config = edgeConfig(this.env);
      this.#decider = new PoolDecider({
        agent: config.agentUrl ? agentClient(config.agentUrl) : undefined,
        kernel,
        scrapeIntervalMs: config.scrapeIntervalMs,
        waitUntil: (p) => this.ctx.waitUntil(p),
      });
    }
    return this.#decider;
  }

  decide(pool: Pool, request: SchedulingRequest): Promise<Decision> {
    return this.#pool().decide(pool, request);
  }

  async dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): Promise<void> {
    this.#pool().dispatched(pool, endpoint, request);
  }

  async completed(pool: Pool, endpointId: string, requestId: string, outcome: Outcome): Promise<void> {
    this.#pool().completed(pool, endpointId, requestId, outcome);
  }

  readiness(pool: Pool): Promise<Readiness> {
    return this.#pool().readiness(pool);
  }
}
