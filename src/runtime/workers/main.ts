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
import { accessLog } from '../../observability/access-log.ts';
import type { RequestObserver } from '../../proxy/observer.ts';

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
  /** Each running request's end: resolving it lets its context go (see #proxy). */
  readonly #ends = new Map<string, () => void>();

  constructor(env: WorkerEnv, config: EdgeConfig) {
    this.table = new EdgeTable(this.store, config, bundled);
    if (config.edgeState === 'durable-object') {
      this.#targets = (pool) => env.POOLS.get(env.POOLS.idFromName(pool.name));
    } else {
      const agent = config.agentUrl ? agentClient(config.agentUrl, config.agentToken) : undefined;
      const local = new Map<string, PoolDecider>();
      this.#targets = (pool) => {
        let d = local.get(pool.name);
        if (!d) local.set(pool.name, (d = new PoolDecider({ agent, kernel, scrapeIntervalMs: config.scrapeIntervalMs, config: config.schedulingConfig })));
        return d;
      };
    }
    this.scheduler = new EdgeScheduler(this.#targets);
    // Token budgets in the tenant's Durable Object (shared by every isolate); without the binding, each isolate would keep its own.
    // A settlement outlives the answer by the request's waitUntil; the context is let go when the request is over.
    const budgets = env.BUDGETS
      ? new TokenBudgets(new DurableBudgetStore(env.BUDGETS), { failureMode: config.budgetFailureMode, keepAlive: (r, settled) => this.#contexts.get(r.key)?.waitUntil(settled) })
      : undefined;
    // Last observer: the budget's settlement and the scheduler's reports have been handed to the context by now.
    const release = { finished: (r: { key: string }) => this.#over(r.key) };
    const observers: RequestObserver[] = config.accessLog ? [accessLog({ write: (line) => console.log(line), ...config.accessLog }), release] : [release];
    this.gateway = new Gateway({ table: this.store, scheduling: this.scheduler, upstream: workersUpstream, observers, ...(budgets ? { budgets } : {}) }, {
      bodyLimit: config.bodyLimit,
      upstreamTimeoutMs: config.upstreamTimeoutMs,
      maxAttempts: config.maxAttempts,
      tenantHeader: config.tenantHeader,
      explainHeader: config.explainHeader,
    });
    // Paths an HTTPRoute names are answered by the app: the client's address comes the same way as on #proxy.
    this.app = createDataPlaneApp(this.gateway, { clientAddress: (c) => c.req.header('cf-connecting-ip') ?? undefined });
  }

  /** A request is over (its observers heard the end, or its body ended or was cancelled): let its context go once its reports are sent. */
  #over(key: string): void {
    const end = this.#ends.get(key);
    if (!end) return;
    this.#ends.delete(key);
    this.#contexts.delete(key);
    void this.scheduler.finished(key).then(end);
  }

  async fetch(request: Request, ctx: ExecutionContext): Promise<Response> {
    await this.table.ensure();
    const url = new URL(request.url);
    const kind = request.method === 'POST' ? API_ROUTES[url.pathname] : undefined;
    if (kind) return this.#proxy(kind, request, url.pathname, ctx);
    // The director's models port is synchronous: the pools' objects are asked for their pods' models first.
    if (url.pathname === '/v1/models' && request.method === 'GET' && this.store.current) await this.scheduler.refreshServedModels([...this.store.current.pools.values()]);
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
    // One waitUntil from the start, resolved when the request is over: a client that leaves mid-stream ends the
    // response, and without it the context could end before the budget settles and the pool's object hears of it.
    ctx.waitUntil(new Promise<void>((resolve) => this.#ends.set(key, resolve)));
    this.scheduler.begin(key, ctx);
    this.#contexts.set(key, ctx);
    const answer = await this.gateway.answer(kind, edgeInbound, path);
    // Refused before reading (413 on content-length): read the rest so the client can finish sending and
    // see the answer; the platform has admitted the body under its own limit already.
    if (answer.status === 413 && request.body && !request.bodyUsed) await request.body.pipeTo(new WritableStream()).catch(() => undefined);
    const response = toResponse(answer);
    if (!response.body || !this.#ends.has(key)) return response;
    return new Response(untilOver(response.body, request.signal, () => this.#over(key)), response);
  }
}

/**
 * The body as the client reads it; `over` once it has ended or been cancelled. The gateway's observers normally
 * hear the end first; this is the backstop that lets the request's context go whatever happened to them.
 */
function untilOver(body: ReadableStream<Uint8Array>, client: AbortSignal | undefined, over: () => void): ReadableStream<Uint8Array> {
  const reader = body.getReader();
  // After a turn, so that what the gateway does on the same end (settling, reporting) is handed to the context first.
  const later = () => void setTimeout(over, 0);
  // workerd does not cancel a body whose client left: nobody pulls it any more, so it is cancelled here.
  client?.addEventListener('abort', () => void reader.cancel(client.reason).catch(() => undefined).finally(later));
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      try {
        const { done, value } = await reader.read();
        if (done) {
          controller.close();
          later();
        } else controller.enqueue(value);
      } catch (err) {
        controller.error(err);
        later();
      }
    },
    cancel(reason) {
      return reader.cancel(reason).finally(later);
    },
  });
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
