/**
 * Token budgets shared by gateway replicas through Redis or Valkey (same
 * protocol; ioredis). Each reservation is one Lua script, run atomically by
 * the server: it reads the tenant's window, refuses or charges, and takes a
 * place in flight, so two replicas can never both spend the last of a budget.
 * The clock is the server's (`TIME`), one clock for every replica.
 *
 * Per tenant, three keys with the tenant as hash tag (one Redis Cluster slot):
 *   `<prefix>{tenant}:tokens`    hash: one-second slot number → tokens charged
 *   `<prefix>{tenant}:inflight`  sorted set: reservation id → lease expiry (ms)
 *   `<prefix>{tenant}:cancelled` sorted set: reservation id → expiry (ms), see below
 * The scripts transcribe src/budgets/store.ts's `windowUse`, `freedAfter` and
 * `resetAfter` (sixty one-second slots). A place in flight is a lease: a
 * replica that dies mid-request frees its places when their leases end
 * (`leaseMs`, default 10 min) instead of holding them forever.
 *
 * A reservation the gateway gave up on (no answer within the command timeout,
 * a broken connection) may still run on the server, later: the client stops
 * waiting, the server does not. The request went on uncounted (or was
 * refused), nothing would settle it, and its place in flight would hold for
 * the whole lease (a tenant allowed one request in flight: locked out for
 * 10 min). So the store cancels it by its id, which the client chose. The
 * cancel script undoes the reservation if it ran, and else leaves a tombstone
 * that makes the reservation do nothing when it runs: whatever order the two
 * run in, nothing is left behind. It is sent on the same connection (Redis runs
 * one connection's commands in order, so usually it simply finds the
 * reservation done), is idempotent, and one that cannot be sent is sent again
 * when the connection is back. A deadline in the reservation itself could not
 * do this: the server cannot tell, on its clock, when a client gave up.
 */
import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import type { BudgetLimits, BudgetStore, Held, ReserveResult } from '../../budgets/store.ts';

const CLOCK = `
if redis.replicate_commands then pcall(redis.replicate_commands) end
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local slot = math.floor(now / 1000)
`;

/** Live slots' charges into \`charged\`, stale ones deleted; \`used\` is their sum. */
const WINDOW = `
local charged = {}
local used = 0
local h = redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  local s = tonumber(h[i])
  if s <= slot - 60 then
    redis.call('HDEL', KEYS[1], h[i])
  else
    local n = tonumber(h[i + 1])
    charged[s] = n
    used = used + n
  end
end
`;

// KEYS: tokens, inflight, cancelled. ARGV: tokens, tokensPerMinute, maxConcurrent, id, leaseMs.
// Returns {1, slot, remaining (-1: no limit), resetMs} or {0, limit, remaining, retryAfterMs, resetMs}.
const RESERVE = `${CLOCK}
-- Cancelled before it ran (see CANCEL): it does nothing.
if redis.call('ZREM', KEYS[3], ARGV[4]) == 1 then return {0, 'cancelled', -1, 0, 0} end
${WINDOW}
local tokens = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local conc = tonumber(ARGV[3])
local lease = tonumber(ARGV[5])
local function reset()
  for s = slot, slot - 59, -1 do
    if (charged[s] or 0) ~= 0 then return math.max(1, (s + 60) * 1000 - now) end
  end
  return 0
end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local remaining = -1
if tpm > 0 then remaining = math.max(0, tpm - used) end
if conc > 0 and redis.call('ZCARD', KEYS[2]) >= conc then return {0, 'concurrency', remaining, 1000, reset()} end
if tpm > 0 and used + tokens > tpm then
  local need = used + tokens - tpm
  local freed = 0
  for s = slot - 59, slot do
    freed = freed + (charged[s] or 0)
    if freed >= need then return {0, 'tokens', remaining, math.max(1, (s + 60) * 1000 - now), reset()} end
  end
  return {0, 'tokens', remaining, 60000, reset()}
end
redis.call('HINCRBY', KEYS[1], slot, tokens)
charged[slot] = (charged[slot] or 0) + tokens
redis.call('PEXPIRE', KEYS[1], 61000)
redis.call('ZADD', KEYS[2], now + lease, ARGV[4])
redis.call('PEXPIRE', KEYS[2], lease + 1000)
if remaining >= 0 then remaining = remaining - tokens end
return {1, slot, remaining, reset()}
`;

// KEYS: tokens, inflight, cancelled. ARGV: id, tokens, leaseMs.
// Returns 1 when it undid the reservation, 0 when it left the tombstone.
const CANCEL = `${CLOCK}
local expiry = redis.call('ZSCORE', KEYS[2], ARGV[1])
local lease = tonumber(ARGV[3])
if expiry then
  redis.call('ZREM', KEYS[2], ARGV[1])
  -- The slot it charged is the second its lease began in (RESERVE's expiry is its now + lease): no need to keep it.
  local charged = math.floor((tonumber(expiry) - lease) / 1000)
  if redis.call('HEXISTS', KEYS[1], charged) == 1 then redis.call('HINCRBY', KEYS[1], charged, -tonumber(ARGV[2])) end
  return 1
end
redis.call('ZREMRANGEBYSCORE', KEYS[3], '-inf', now)
redis.call('ZADD', KEYS[3], now + lease, ARGV[1])
redis.call('PEXPIRE', KEYS[3], lease)
return 0
`;

// KEYS: tokens, inflight. ARGV: id, slot, actual - reserved.
const SETTLE = `
redis.call('ZREM', KEYS[2], ARGV[1])
local d = tonumber(ARGV[3])
if d ~= 0 and redis.call('HEXISTS', KEYS[1], ARGV[2]) == 1 then redis.call('HINCRBY', KEYS[1], ARGV[2], d) end
return 1
`;

// KEYS: tokens.
const USED = `${CLOCK}
local used = 0
local h = redis.call('HGETALL', KEYS[1])
for i = 1, #h, 2 do
  if tonumber(h[i]) > slot - 60 then used = used + tonumber(h[i + 1]) end
end
return used
`;

type Scripts = {
  igReserve(tokens: string, inflight: string, cancelled: string, n: number, tpm: number, conc: number, id: string, lease: number): Promise<[number, number | string, number, number, number?]>;
  igCancel(tokens: string, inflight: string, cancelled: string, id: string, n: number, lease: number): Promise<number>;
  igSettle(tokens: string, inflight: string, id: string, slot: number, delta: number): Promise<number>;
  igUsed(tokens: string): Promise<number>;
};

export interface RedisBudgetStoreOptions {
  /** `redis://[user:password@]host:port[/db]` or `rediss://…` (TLS). */
  url: string;
  /** Key prefix (default `infergate:budget:`). */
  prefix?: string;
  /** How long a place in flight outlives a replica that died holding it, ms (default 10 min). */
  leaseMs?: number;
  /** A command not answered in this long fails (the budget's failure mode then applies), ms (default 500). */
  commandTimeoutMs?: number;
}

/** Cancellations kept to send again when the connection is back; beyond it the oldest are left to their leases. */
const MAX_UNSENT_CANCELS = 10_000;

export class RedisBudgetStore implements BudgetStore {
  readonly #redis: Redis & Scripts;
  readonly #prefix: string;
  readonly #leaseMs: number;
  /** Cancellations that failed to be sent (or answered), by reservation id: sent again on reconnection. */
  readonly #unsent = new Map<string, { tenant: string; tokens: number }>();

  constructor(options: RedisBudgetStoreOptions) {
    this.#prefix = options.prefix ?? 'infergate:budget:';
    this.#leaseMs = options.leaseMs ?? 600_000;
    // No offline queue: while the server is unreachable a reservation fails at once (and the failure mode decides), not after a pile-up.
    const redis = new Redis(options.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: options.commandTimeoutMs ?? 500 });
    redis.defineCommand('igReserve', { numberOfKeys: 3, lua: RESERVE });
    redis.defineCommand('igCancel', { numberOfKeys: 3, lua: CANCEL });
    redis.defineCommand('igSettle', { numberOfKeys: 2, lua: SETTLE });
    redis.defineCommand('igUsed', { numberOfKeys: 1, lua: USED });
    // Errors are reported by the commands that meet them; ioredis keeps reconnecting.
    redis.on('error', () => {});
    redis.on('ready', () => {
      for (const [id, c] of [...this.#unsent]) this.#cancel(c.tenant, id, c.tokens);
    });
    this.#redis = redis as Redis & Scripts;
  }

  /** Connect (and check the server answers); rejects when it cannot. */
  async connect(): Promise<void> {
    await this.#redis.connect();
    await this.#redis.ping();
  }

  async reserve(tenant: string, tokens: number, limits: BudgetLimits): Promise<ReserveResult> {
    // Not connected: the command is refused unsent (no offline queue), so there is nothing to cancel.
    if (this.#redis.status !== 'ready') throw new Error(`the budget store is not connected (${this.#redis.status})`);
    const id = randomUUID();
    let reply: Awaited<ReturnType<Scripts['igReserve']>>;
    try {
      reply = await this.#redis.igReserve(this.#key(tenant, 'tokens'), this.#key(tenant, 'inflight'), this.#key(tenant, 'cancelled'), tokens, limits.tokensPerMinute, limits.maxConcurrent, id, this.#leaseMs);
    } catch (err) {
      this.#cancel(tenant, id, tokens);
      throw err;
    }
    const [ok, a, remaining, ms, resetMs = 0] = reply;
    const left = remaining < 0 ? Infinity : remaining;
    if (ok === 1) return { ok: true, held: { slot: Number(a), id }, remainingTokens: left, resetMs: ms };
    return { ok: false, limit: a === 'concurrency' ? 'concurrency' : 'tokens', remainingTokens: left, retryAfterMs: ms, resetMs };
  }

  /** Undo a reservation the caller was told failed, whether it ran, runs later or never (see the top of this file). */
  #cancel(tenant: string, id: string, tokens: number): void {
    this.#unsent.delete(id);
    this.#redis.igCancel(this.#key(tenant, 'tokens'), this.#key(tenant, 'inflight'), this.#key(tenant, 'cancelled'), id, tokens, this.#leaseMs).then(
      () => this.#unsent.delete(id),
      () => {
        // Sent again when the connection is back (cancelling twice is harmless).
        if (this.#unsent.size >= MAX_UNSENT_CANCELS) this.#unsent.delete(this.#unsent.keys().next().value!);
        this.#unsent.set(id, { tenant, tokens });
      },
    );
  }

  async settle(tenant: string, held: Held, reserved: number, actual: number): Promise<void> {
    await this.#redis.igSettle(this.#key(tenant, 'tokens'), this.#key(tenant, 'inflight'), held.id, held.slot, actual - reserved);
  }

  async used(tenant: string): Promise<number> {
    return Number(await this.#redis.igUsed(this.#key(tenant, 'tokens')));
  }

  async close(): Promise<void> {
    await this.#redis.quit().catch(() => this.#redis.disconnect());
  }

  #key(tenant: string, what: string): string {
    return `${this.#prefix}{${tenant}}:${what}`;
  }
}
