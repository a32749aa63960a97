/**
 * Endpoints from a remote agent: one WatchEndpoints stream per pool
 * (selector + ports), reconnected with jittered exponential backoff. While
 * disconnected the last snapshot stays and simply ages — its scrapedAt times
 * are left as they were, so the picker sees stale metrics as stale and
 * applies the pool's failure mode.
 */
import { createClient, ConnectError, type Client, type Transport } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { EndpointService } from '../gen/infergate/v1/endpoint_pb.ts';
import { sendBearer } from '../rpc/auth.ts';
import { poolKey, type Endpoint, type EndpointSource, type PoolRef, type PoolSnapshot } from './types.ts';
import { fromWireSnapshot, wirePool } from './wire.ts';

export interface AgentSourceOptions {
  agentUrl: string;
  /** Bearer token the agent requires (the primary's internal listener under `--workers N`). */
  token?: string;
  /** Default: Connect over fetch (works on every runtime). */
  transport?: Transport;
  /** A stream silent for this long is presumed dead and reconnected; also the readiness horizon. */
  staleAfterMs?: number;
  backoffInitialMs?: number;
  backoffMaxMs?: number;
  now?: () => number;
  random?: () => number;
  log?: (line: Record<string, unknown>) => void;
}

interface Subscription {
  pool: PoolRef;
  endpoints: Endpoint[];
  hasMetrics: boolean;
  connected: boolean;
  lastMessageAt: number;
  lastError?: string;
  closed: boolean;
  attempt?: AbortController;
  /** That the agent could not be reached was logged (once, until it is). */
  unreachableSaid?: boolean;
}

export class AgentEndpointSource implements EndpointSource {
  readonly #client: Client<typeof EndpointService>;
  readonly #o: Required<Omit<AgentSourceOptions, 'transport' | 'token'>>;
  readonly #subs = new Map<string, Subscription>();
  readonly #watchdog: ReturnType<typeof setInterval>;
  #probeError: string | undefined = 'not connected yet';
  #closed = false;
  readonly #listeners = new Set<() => void>();

  /** Call `listener` on every snapshot received. Returns a stop function. */
  onChange(listener: () => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  firstSnapshots(timeoutMs: number): Promise<boolean> {
    const all = () => [...this.#subs.values()].every((s) => s.hasMetrics);
    if (all()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        clearTimeout(timer);
        stop();
        resolve(ok);
      };
      const stop = this.onChange(() => all() && done(true));
      const timer = setTimeout(() => done(all()), timeoutMs);
    });
  }

  constructor(options: AgentSourceOptions) {
    this.#o = {
      agentUrl: options.agentUrl,
      staleAfterMs: options.staleAfterMs ?? 2000,
      backoffInitialMs: options.backoffInitialMs ?? 50,
      backoffMaxMs: options.backoffMaxMs ?? 1000,
      now: options.now ?? Date.now,
      random: options.random ?? Math.random,
      log: options.log ?? (() => {}),
    };
    const interceptors = options.token ? [sendBearer(options.token)] : [];
    this.#client = createClient(EndpointService, options.transport ?? createConnectTransport({ baseUrl: options.agentUrl, useBinaryFormat: true, interceptors }));
    this.#watchdog = setInterval(() => this.#check(), Math.min(500, this.#o.staleAfterMs / 2));
    void this.#probe();
  }

  snapshot(pool: PoolRef): PoolSnapshot {
    const sub = this.#subscribe(pool);
    return { pool: pool.name, endpoints: sub.endpoints, at: this.#o.now(), hasMetrics: sub.hasMetrics };
  }

  /** Subscribe to these pools now (before the first request) and drop streams of pools no longer listed. */
  prepare(pools: readonly PoolRef[]): void {
    const keep = new Set(pools.map((p) => poolKey(p)));
    for (const [key, sub] of this.#subs) {
      if (keep.has(key)) continue;
      sub.closed = true;
      sub.attempt?.abort();
      this.#subs.delete(key);
    }
    for (const p of pools) this.#subscribe(p);
  }

  notReadyReason(): string | undefined {
    if (this.#subs.size === 0) return this.#probeError ? `agent ${this.#o.agentUrl} not reachable: ${this.#probeError}` : undefined;
    for (const sub of this.#subs.values()) if (sub.connected) return undefined;
    const error = [...this.#subs.values()].find((s) => s.lastError)?.lastError ?? 'connecting';
    return `not connected to agent ${this.#o.agentUrl}: ${error}`;
  }

  close(): void {
    this.#closed = true;
    clearInterval(this.#watchdog);
    for (const sub of this.#subs.values()) {
      sub.closed = true;
      sub.attempt?.abort();
    }
    this.#subs.clear();
  }

  #subscribe(pool: PoolRef): Subscription {
    const key = poolKey(pool);
    let sub = this.#subs.get(key);
    if (!sub) {
      sub = { pool, endpoints: [], hasMetrics: false, connected: false, lastMessageAt: 0, closed: this.#closed };
      this.#subs.set(key, sub);
      if (!this.#closed) void this.#run(sub);
    }
    return sub;
  }

  async #run(sub: Subscription): Promise<void> {
    let failures = 0;
    while (!sub.closed) {
      const attempt = new AbortController();
      sub.attempt = attempt;
      try {
        const stream = this.#client.watchEndpoints(wirePool(sub.pool), { signal: attempt.signal });
        for await (const msg of stream) {
          const now = this.#o.now();
          if (!sub.connected) this.#o.log({ level: 'info', msg: 'agent stream connected', pool: sub.pool.name, agent: this.#o.agentUrl });
          sub.unreachableSaid = false;
          sub.connected = true;
          sub.lastError = undefined;
          sub.lastMessageAt = now;
          failures = 0;
          if (msg.snapshot) {
            sub.endpoints = fromWireSnapshot(msg.snapshot, now);
            sub.hasMetrics = true;
            for (const listener of this.#listeners) listener();
          }
        }
        sub.lastError = 'the agent ended the stream';
      } catch (err) {
        if (sub.closed) break;
        sub.lastError = attempt.signal.aborted ? `no message for ${this.#o.staleAfterMs} ms` : ConnectError.from(err).rawMessage;
      }
      if (sub.connected) this.#o.log({ level: 'warn', msg: 'agent stream lost', pool: sub.pool.name, agent: this.#o.agentUrl, error: sub.lastError });
      // Never reached: said once (a wrong --agent URL, an agent not up yet), not at every retry.
      else if (failures === 0 && !sub.unreachableSaid) {
        sub.unreachableSaid = true;
        this.#o.log({ level: 'warn', msg: 'agent not reachable; retrying', pool: sub.pool.name, agent: this.#o.agentUrl, error: sub.lastError });
      }
      sub.connected = false;
      const ceiling = Math.min(this.#o.backoffMaxMs, this.#o.backoffInitialMs * 2 ** failures++);
      await sleep(ceiling * (0.5 + this.#o.random() * 0.5), () => sub.closed);
    }
  }

  /** Abort streams that went silent (a half-open connection never errors by itself). */
  #check(): void {
    const now = this.#o.now();
    for (const sub of this.#subs.values()) {
      if (sub.connected && now - sub.lastMessageAt > this.#o.staleAfterMs) sub.attempt?.abort();
    }
    if (this.#subs.size === 0) void this.#probe();
  }

  async #probe(): Promise<void> {
    try {
      await this.#client.getEndpoints({ selector: { 'infergate.io/readiness-probe': 'true' }, targetPorts: [] }, { timeoutMs: 1000 });
      this.#probeError = undefined;
    } catch (err) {
      this.#probeError = ConnectError.from(err).rawMessage;
    }
  }
}


/** Sleep, checking `stop` every 50 ms so that close() is prompt. */
async function sleep(ms: number, stop: () => boolean): Promise<void> {
  const until = Date.now() + ms;
  while (!stop() && Date.now() < until) await new Promise((r) => setTimeout(r, Math.min(50, until - Date.now())));
}
