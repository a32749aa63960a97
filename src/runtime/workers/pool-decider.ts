/**
 * One pool's view and decisions — what the pool's Durable Object runs (or,
 * in `isolate` mode, each isolate): the latest agent snapshot, refreshed by a
 * unary GetEndpoints when older than the scrape interval, and the endpoint
 * picker with its in-flight counts, prefix index and passive health (the
 * same LocalScheduling a Node or Deno gateway runs, over this view). A
 * decision that routes counts as the dispatch to the chosen endpoint, saving
 * a round trip.
 */
import { ConnectError, type Client } from '@connectrpc/connect';
import type { EndpointService } from '../../gen/infergate/v1/endpoint_pb.ts';
import { poolKey, type Endpoint, type EndpointSource, type PoolSnapshot } from '../../endpoints/types.ts';
import { fromWireSnapshot, wirePool } from '../../endpoints/wire.ts';
import type { Pool } from '../../routing/schema.ts';
import type { Outcome, Readiness } from '../../scheduling/endpoint-scheduling.ts';
import { createScheduler, type EndpointPicker, type EndpointPickerConfig, type SchedulingServices } from '../../scheduling/index.ts';
import { LocalScheduling } from '../../scheduling/local.ts';
import { requestKey, type Decision, type SchedulingRequest } from '../../scheduling/scheduler.ts';
import type { ServedModelEntry } from '../../scheduling/served-models.ts';

export interface PoolDeciderOptions {
  agent: Client<typeof EndpointService> | undefined;
  kernel: WebAssembly.Module;
  scrapeIntervalMs: number;
  /** Keeps a background refresh alive past the request that started it. */
  waitUntil?: (promise: Promise<unknown>) => void;
  /** The KV-event index and a tokenizer for precise-prefix-cache plugins (in a Durable Object: a KvIndexReplica of the agent's index). */
  services?: SchedulingServices;
  /** A validated EndpointPickerConfig (its profiles join the built-in ones). */
  config?: EndpointPickerConfig;
}

interface View {
  key: string;
  endpoints: Endpoint[];
  hasMetrics: boolean;
  /** When the agent was last asked (ms), answered or not. */
  askedAt: number;
  error?: string;
}

/**
 * How long a dispatch counts without a report of its end. Normally every end is reported (the request's
 * waitUntil lasts until it is); this only bounds what a lost report costs. Ten minutes, as the Redis budget
 * store's leases: longer than the 5-minute upstream timeout plus a long stream, so a live request is rarely
 * forgotten, and an endpoint's count is wrong for at most that long.
 */
export const DISPATCH_LEASE_MS = 10 * 60_000;

const leaseKey = (endpointId: string, key: string) => `${endpointId} ${key}`;

export class PoolDecider implements EndpointSource {
  readonly picker: EndpointPicker;
  readonly #local: LocalScheduling;
  #view: View = { key: '', endpoints: [], hasMetrics: false, askedAt: 0 };
  /** Each counted dispatch until its end is reported, or its lease runs out. */
  readonly #leases = new Map<string, { endpointId: string; key: string; until: number }>();
  #sweepAt = 0;
  /** When the running background refresh started (0: none). */
  #backgroundSince = 0;

  constructor(private readonly options: PoolDeciderOptions) {
    this.picker = createScheduler({ kernel: options.kernel, services: options.services, config: options.config });
    this.#local = new LocalScheduling(this, this.picker, { staleAfterMs: this.picker.staleAfterMs, now: Date.now });
  }

  /** The view as an endpoint source (for LocalScheduling): refreshed by decide and readiness before they read it. */
  snapshot(pool: { name: string }): PoolSnapshot {
    const v = this.#view;
    return { pool: pool.name, endpoints: v.endpoints, at: Date.now(), hasMetrics: v.hasMetrics };
  }

  notReadyReason(): string | undefined {
    return this.#view.error ? `agent: ${this.#view.error}` : undefined;
  }

  close(): void {}

  /**
   * `counts`: a route counts as the dispatch to its endpoint (saving a round trip). A resume's decide does not:
   * it may name the endpoint the stream broke on, which the isolate excludes and then reports the one it uses.
   */
  async decide(pool: Pool, request: SchedulingRequest, counts = true): Promise<Decision> {
    this.#sweep(pool);
    await this.#fresh(pool);
    const decision = await this.#local.pick(pool, request);
    if (decision.kind === 'route' && counts) this.dispatched(pool, decision.endpoint, request);
    else if (decision.kind === 'unavailable' && this.#view.error) decision.reason += ` (agent: ${this.#view.error})`;
    // The object's in-flight counts, for whoever asked why (x-infergate-explain): the isolates cannot see them.
    if (decision.explain) decision.explain.inFlight = this.inFlight(pool);
    return decision;
  }

  /** A fallback endpoint was tried after the chosen one refused. */
  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void {
    this.#sweep(pool);
    const key = requestKey(request);
    this.#leases.set(leaseKey(endpoint.id, key), { endpointId: endpoint.id, key, until: Date.now() + DISPATCH_LEASE_MS });
    this.#local.dispatched(pool, endpoint, request);
  }

  /** A request ended; only its in-flight key and endpoint travel (the rest of the request stays in the isolate). */
  completed(pool: Pool, endpointId: string, key: string, outcome: Outcome): void {
    this.#sweep(pool);
    this.#leases.delete(leaseKey(endpointId, key));
    const endpoint = this.#view.endpoints.find((e) => e.id === endpointId) ?? ({ id: endpointId } as Endpoint);
    this.#local.completed(pool, endpoint, { requestId: key, key } as SchedulingRequest, outcome);
  }

  /** Requests in flight per endpoint of the view, as this object counts them. */
  inFlight(pool: Pool): Record<string, number> {
    return Object.fromEntries(this.#view.endpoints.map((e) => [e.id, this.picker.inFlightCount(pool.name, e.id) ?? 0]));
  }

  /** What the pods say they serve (their /v1/models, from the agent's snapshot), for GET /v1/models. */
  async servedModels(pool: Pool): Promise<ServedModelEntry[]> {
    await this.#fresh(pool);
    return this.#local.servedModels([pool]);
  }

  /**
   * Dispatches whose end was never reported (an isolate evicted, a report lost) expire: without it they would
   * weigh on their endpoint for as long as the object lives. Looked over at most once a second.
   */
  #sweep(pool: Pool): void {
    const now = Date.now();
    if (now < this.#sweepAt) return;
    this.#sweepAt = now + 1000;
    for (const [k, lease] of this.#leases) {
      if (lease.until > now) continue;
      this.#leases.delete(k);
      const endpoint = this.#view.endpoints.find((e) => e.id === lease.endpointId) ?? ({ id: lease.endpointId } as Endpoint);
      // Reported as the client having left: an unknown end says nothing about the pod's health.
      this.#local.completed(pool, endpoint, { requestId: lease.key, key: lease.key } as SchedulingRequest, { status: 0, failure: 'aborted' });
    }
  }

  async readiness(pool: Pool): Promise<Readiness> {
    await this.#fresh(pool);
    return this.#local.readiness([pool]);
  }

  /**
   * Ask the agent when the view is older than the scrape interval. A view
   * only a few intervals old is used as is while a background call refreshes
   * it (the next decision gets the answer); an older one — an idle pool — is
   * refreshed by this caller before deciding. No caller awaits a promise
   * another request created: outside Durable Objects, Workers forbid I/O
   * across requests, and this class also runs in isolates.
   */
  async #fresh(pool: Pool): Promise<void> {
    const key = poolKey(pool);
    if (key !== this.#view.key) this.#view = { key, endpoints: [], hasMetrics: false, askedAt: 0 };
    const now = Date.now();
    const age = now - this.#view.askedAt;
    if (age <= this.options.scrapeIntervalMs) return;
    if (age > Math.max(4 * this.options.scrapeIntervalMs, 200)) return this.#refresh(pool, key);
    // A background refresh cut short (its request ended) is presumed lost after a second.
    if (now - this.#backgroundSince < 1000) return;
    this.#backgroundSince = now;
    const background = this.#refresh(pool, key).finally(() => (this.#backgroundSince = 0));
    this.options.waitUntil?.(background);
  }

  async #refresh(pool: Pool, key: string): Promise<void> {
    const agent = this.options.agent;
    try {
      if (!agent) throw new Error('no agent configured (set INFERGATE_AGENT)');
      const res = await agent.getEndpoints(wirePool(pool), { timeoutMs: 1000 });
      if (key !== this.#view.key) return;
      this.#view.endpoints = res.snapshot ? fromWireSnapshot(res.snapshot, Date.now()) : [];
      this.#view.hasMetrics = true;
      this.#view.error = undefined;
    } catch (err) {
      // Keep the last endpoints: their scrape times age, and the picker applies the pool's failure mode.
      this.#view.error = err instanceof ConnectError ? err.rawMessage : (err as Error).message;
    } finally {
      this.#view.askedAt = Date.now();
    }
  }
}
