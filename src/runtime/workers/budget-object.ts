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

/**
 * How long a reservation holds its place in flight without being settled. Every request settles (its
 * waitUntil lasts until it has); this only bounds what a lost settlement costs — a tenant with
 * maxConcurrentRequests 1 locked out. Ten minutes, as the Redis store's leases, so both stores behave alike:
 * longer than the 5-minute upstream timeout plus a long stream, so a live request rarely loses its place.
 */
export const RESERVATION_LEASE_MS = 10 * 60_000;

interface Lease {
  tenant: string;
  held: Held;
  reserved: number;
  until: number;
}

export class BudgetObject extends DurableObject<WorkerEnv> implements BudgetObjectStub {
  readonly #store = new MemoryBudgetStore();
  /** Unsettled reservations, by their id, in the order they were made (so the oldest expire first). */
  readonly #leases = new Map<string, Lease>();

  async reserve(tenant: string, tokens: number, limits: BudgetLimits): Promise<ReserveResult> {
    this.#sweep();
    // Infinity does not cross RPC as a number a client can read back: no limit is -1 on the wire.
    const r = this.#store.reserve(tenant, tokens, limits);
    if (r.ok) this.#leases.set(r.held.id, { tenant, held: r.held, reserved: tokens, until: Date.now() + RESERVATION_LEASE_MS });
    return { ...r, remainingTokens: Number.isFinite(r.remainingTokens) ? r.remainingTokens : -1 };
  }

  async settle(tenant: string, held: Held, reserved: number, actual: number): Promise<void> {
    this.#sweep();
    // Settled once: a reservation its lease already freed must not free a place twice.
    if (!this.#leases.delete(held.id)) return;
    this.#store.settle(tenant, held, reserved, actual);
  }

  async used(tenant: string): Promise<number> {
    this.#sweep();
    return this.#store.used(tenant);
  }

  /** Free the places of reservations never settled; their tokens stay charged (what they used is unknown). */
  #sweep(): void {
    const now = Date.now();
    for (const [id, lease] of this.#leases) {
      if (lease.until > now) break;
      this.#leases.delete(id);
      this.#store.settle(lease.tenant, lease.held, lease.reserved, lease.reserved);
    }
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
