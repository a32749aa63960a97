/**
 * Token budgets on Workers: one Durable Object per tenant (by name) keeps the
 * tenant's window, so every isolate in every location charges the same
 * budget. An object runs one call at a time, which makes each reservation
 * atomic, as the Redis script is on Node; inside, it is the in-process store
 * (src/budgets/store.ts). Its state is memory: an object evicted after being
 * idle longer than the 60 s window loses nothing that still counts.
 */
import { DurableObject } from 'cloudflare:workers';
import type { BudgetLimits, BudgetStore, Held, ReserveResult } from '../../budgets/store.ts';
import { MemoryBudgetStore } from '../../budgets/store.ts';
import type { DurableObjectNamespace } from './types.ts';
import type { WorkerEnv } from './types.ts';

/** What an isolate sees of a tenant's object (RPC methods answer promises). */
export interface BudgetObjectStub {
  reserve(tenant: string, tokens: number, limits: BudgetLimits): Promise<ReserveResult>;
  settle(tenant: string, held: Held, reserved: number, actual: number): Promise<void>;
  used(tenant: string): Promise<number>;
}

export class BudgetObject extends DurableObject<WorkerEnv> implements BudgetObjectStub {
  readonly #store = new MemoryBudgetStore();

  async reserve(tenant: string, tokens: number, limits: BudgetLimits): Promise<ReserveResult> {
    // Infinity does not cross RPC as a number a client can read back: no limit is -1 on the wire.
    const r = this.#store.reserve(tenant, tokens, limits);
    return { ...r, remainingTokens: Number.isFinite(r.remainingTokens) ? r.remainingTokens : -1 };
  }

  async settle(tenant: string, held: Held, reserved: number, actual: number): Promise<void> {
    this.#store.settle(tenant, held, reserved, actual);
  }

  async used(tenant: string): Promise<number> {
    return this.#store.used(tenant);
  }
}

/** The budget store of the isolates: each tenant's calls go to its object. */
export class DurableBudgetStore implements BudgetStore {
  constructor(readonly namespace: DurableObjectNamespace<BudgetObjectStub>) {}

  async reserve(tenant: string, tokens: number, limits: BudgetLimits): Promise<ReserveResult> {
    const r = await this.#of(tenant).reserve(tenant, tokens, limits);
    return { ...r, remainingTokens: r.remainingTokens < 0 ? Infinity : r.remainingTokens };
  }

  settle(tenant: string, held: Held, reserved: number, actual: number): Promise<void> {
    return this.#of(tenant).settle(tenant, held, reserved, actual);
  }

  used(tenant: string): Promise<number> {
    return this.#of(tenant).used(tenant);
  }

  #of(tenant: string): BudgetObjectStub {
    return this.namespace.get(this.namespace.idFromName(tenant));
  }
}
