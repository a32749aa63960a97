/**
 * The gateway on Cloudflare Workers (wrangler.toml builds this file). The
 * isolate parses, routes and proxies with the same web-standard core as Node
 * and Deno; endpoint decisions come from the pool's Durable Object, which
 * keeps the agent's latest snapshot, the in-flight counts and the prefix
 * index for every isolate (src/runtime/workers/). No background loops: the
 * snapshot and the routing table are refreshed on demand.
 */
import bundled from '../../../build/workers/routing-table.bundle.js';
import kernel from '../../../build/kernel.wasm';
import { createDataPlaneApp } from '../../gateway/data-plane-app.ts';
import { API_ROUTES, type ApiKind } from '../../api/openai.ts';
import { toResponse } from '../../http/answer.ts';
import { Gateway, newRequestKey } from '../../gateway/gateway.ts';
import { inboundFromRequest, type InboundRequest } from '../../http/inbound.ts';
import { fetchUpstream } from '../../http/fetch-upstream.ts';
import { byProtocol } from '../../http/upstream.ts';

/** `fetch` speaks HTTP/2 only over TLS: a request to an h2c pool is refused with a 502 that says so. */
const workersUpstream = byProtocol({ http: fetchUpstream, runtime: 'Workers' });
import type { Pool } from '../../routing/schema.ts';
import { RoutingTableStore } from '../../routing/store.ts';
import { edgeConfig, type EdgeConfig } from './config.ts';
import { agentClient } from './connect.ts';
import { EdgeScheduler, type PoolTarget } from './edge-scheduler.ts';
import { PoolDecider } from './pool-decider.ts';
import { DurableBudgetStore } from './budget-object.ts';
import { TokenBudgets } from '../../budgets/budgets.ts';
import { EdgeTable } from './table.ts';
import type { ExecutionContext, WorkerEnv } from './types.ts';

export { PoolObject } from './pool-object.ts';
export { BudgetObject } from './budget-object.ts';

class Edge {
  readonly store = new RoutingTableStore();
  readonly table: EdgeTable;
  readonly scheduler: EdgeScheduler;
  readonly gateway: Gateway;
  readonly app;
  readonly #targets: (pool: Pool) => PoolTarget;
  /** Each request's context while it runs (token-budget settlements are kept alive with it). */
  readonly #contexts = new Map<string, ExecutionContext>();

  constructor(env: WorkerEnv, config: EdgeConfig) {
    this.table = new EdgeTable(this.store, config, bundled);
    if (config.edgeState === 'durable-object') {
      this.#targets = (pool) => env.POOLS.get(env.POOLS.idFromName(pool.name));
    } else {
      const agent = config.agentUrl ? agentClient(config.agentUrl) : undefined;
      const local = new Map<string, PoolDecider>();
      this.#targets = (pool) => {
        let d = local.get(pool.name);
        if (!d) local.set(pool.name, (d = new PoolDecider({ agent, kernel, scrapeIntervalMs: config.scrapeIntervalMs })));
        return d;
      };
    }
    this.scheduler = new EdgeScheduler(this.#targets);
    // Token budgets in the tenant's Durable Object (shared by every isolate); without the binding, each isolate would keep its own.
    // A settlement outlives the answer by the request's waitUntil; the context is let go when the request is over.
    const budgets = env.BUDGETS ? new TokenBudgets(new DurableBudgetStore(env.BUDGETS), { keepAlive: (r, settled) => this.#contexts.get(r.key)?.waitUntil(settled) }) : undefined;
    const release = { finished: (r: { key: string }) => void this.#contexts.delete(r.key) };
    this.gateway = new Gateway({ table: this.store, scheduling: this.scheduler, upstream: workersUpstream, observers: [release], ...(budgets ? { budgets } : {}) }, {
      bodyLimit: config.bodyLimit,
      upstreamTimeoutMs: config.upstreamTimeoutMs,
      maxAttempts: config.maxAttempts,
      tenantHeader: config.tenantHeader,
      explainHeader: config.explainHeader,
    });
    this.app = createDataPlaneApp(this.gateway);
  }

  async fetch(request: Request, ctx: ExecutionContext): Promise<Response> {
    await this.table.ensure();
    const url = new URL(request.url);
    const kind = request.method === 'POST' ? API_ROUTES[url.pathname] : undefined;
    if (kind) return this.#proxy(kind, request, url.pathname, ctx);
    if (url.pathname === '/readyz' && request.method === 'GET' && !this.store.current) {
      return Response.json({ status: 'not ready', reason: this.table.problem ?? 'no routing table is loaded' }, { status: 503 });
    }
    return this.app.fetch(request);
  }

  async #proxy(kind: ApiKind, request: Request, path: string, ctx: ExecutionContext): Promise<Response> {
    // The request id is fixed here, and its in-flight key (unique, as clients may repeat an id) made here, so that
    // reports to the pool's object stay tied to this request's context.
    const requestId = request.headers.get('x-request-id') || crypto.randomUUID();
    const key = newRequestKey();
    // Cloudflare puts the client's address in CF-Connecting-IP.
    const inbound = inboundFromRequest(request, request.headers.get('cf-connecting-ip') ?? undefined);
    const headers = inbound.headers;
    const edgeInbound: InboundRequest = {
      ...inbound,
      signal: request.signal ?? new AbortController().signal,
      key,
      headers: { get: (name) => (name === 'x-request-id' ? requestId : headers.get(name)), forEach: (cb) => headers.forEach(cb) },
    };
    this.scheduler.begin(key, ctx);
    this.#contexts.set(key, ctx);
    let answer;
    try {
      answer = await this.gateway.answer(kind, edgeInbound, path);
    } finally {
      this.scheduler.answered(key);
    }
    // Refused before reading (413 on content-length): read the rest so the client can finish sending and
    // see the answer; the platform has admitted the body under its own limit already.
    if (answer.status === 413 && request.body && !request.bodyUsed) await request.body.pipeTo(new WritableStream()).catch(() => undefined);
    return toResponse(answer);
  }
}

let edge: Edge | undefined;

export default {
  async fetch(request: Request, env: WorkerEnv, ctx: ExecutionContext): Promise<Response> {
    if (!edge) {
      try {
        edge = new Edge(env, edgeConfig(env));
      } catch (err) {
        const message = `The gateway's configuration is invalid: ${(err as Error).message}. Fix the Worker's vars (wrangler.toml) and deploy again.`;
        return Response.json({ error: { message, type: 'server_error', code: 'invalid_configuration', param: null } }, { status: 500 });
      }
    }
    return edge.fetch(request, ctx);
  },
};
