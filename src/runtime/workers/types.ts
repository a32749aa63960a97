/**
 * The slice of the Workers platform this runtime uses, typed here rather than
 * with @cloudflare/workers-types (whose globals would leak into the core).
 */
export interface ExecutionContext {
  waitUntil(promise: Promise<unknown>): void;
  passThroughOnException(): void;
}

export interface DurableObjectState {
  waitUntil(promise: Promise<unknown>): void;
  blockConcurrencyWhile<T>(callback: () => Promise<T>): Promise<T>;
}

export interface DurableObjectId {
  toString(): string;
}

export interface DurableObjectNamespace<Stub> {
  idFromName(name: string): DurableObjectId;
  get(id: DurableObjectId): Stub;
}

/** The Worker's bindings and vars (wrangler.toml). Vars use the gateway's INFERGATE_* names. */
export interface WorkerEnv {
  /** One Durable Object per pool: its snapshot, in-flight counts and prefix index. */
  POOLS: DurableObjectNamespace<import('./pool-object.ts').PoolObjectStub>;
  /** One Durable Object per tenant: its token budget's window (TokenBudget objects of the routing table). */
  BUDGETS?: DurableObjectNamespace<import('./budget-object.ts').BudgetObjectStub>;
  /** The agent serving EndpointService (unary GetEndpoints over Connect). */
  INFERGATE_AGENT?: string;
  /** Admin URL of a control-plane gateway to take the routing table from (instead of the bundled one). */
  INFERGATE_CONTROL_PLANE?: string;
  /** Its bearer token (a secret: `wrangler secret put INFERGATE_TOKEN`). */
  INFERGATE_TOKEN?: string;
  /** `durable-object` (default): decisions by the pool's object; `isolate`: each isolate decides alone (for comparison). */
  INFERGATE_EDGE_STATE?: string;
  [name: string]: unknown;
}
