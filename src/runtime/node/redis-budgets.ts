/**
 * Token budgets shared by gateway replicas through Redis or Valkey (same
 * protocol; ioredis). Each reservation is one Lua script, run atomically by
 * the server: it reads the tenant's window, refuses or charges, and takes a
 * place in flight, so two replicas can never both spend the last of a budget.
 * The clock is the server's (`TIME`), one clock for every replica.
 *
 * Per tenant, two keys with the tenant as hash tag (one Redis Cluster slot):
 *   `<prefix>{tenant}:tokens`   hash: one-second slot number → tokens charged
 *   `<prefix>{tenant}:inflight` sorted set: reservation id → lease expiry (ms)
 * The scripts transcribe src/budgets/store.ts's `windowUse`, `freedAfter` and
 * `resetAfter` (sixty one-second slots). A place in flight is a lease: a
 * replica that dies mid-request frees its places when their leases end
 * (`leaseMs`, default 10 min) instead of holding them forever.
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

// KEYS: tokens, inflight. ARGV: tokens, tokensPerMinute, maxConcurrent, id, leaseMs.
// Returns {1, slot, remaining (-1: no limit), resetMs} or {0, limit, remaining, retryAfterMs}.
const RESERVE = `${CLOCK}${WINDOW}
local tokens = tonumber(ARGV[1])
local tpm = tonumber(ARGV[2])
local conc = tonumber(ARGV[3])
local lease = tonumber(ARGV[5])
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
local remaining = -1
if tpm > 0 then remaining = math.max(0, tpm - used) end
if conc > 0 and redis.call('ZCARD', KEYS[2]) >= conc then return {0, 'concurrency', remaining, 1000} end
if tpm > 0 and used + tokens > tpm then
  local need = used + tokens - tpm
  local freed = 0
  for s = slot - 59, slot do
    freed = freed + (charged[s] or 0)
    if freed >= need then return {0, 'tokens', remaining, math.max(1, (s + 60) * 1000 - now)} end
  end
  return {0, 'tokens', remaining, 60000}
end
redis.call('HINCRBY', KEYS[1], slot, tokens)
charged[slot] = (charged[slot] or 0) + tokens
redis.call('PEXPIRE', KEYS[1], 61000)
redis.call('ZADD', KEYS[2], now + lease, ARGV[4])
redis.call('PEXPIRE', KEYS[2], lease + 1000)
local reset = 0
for s = slot, slot - 59, -1 do
  if (charged[s] or 0) ~= 0 then
    reset = math.max(1, (s + 60) * 1000 - now)
    break
  end
end
if remaining >= 0 then remaining = remaining - tokens end
return {1, slot, remaining, reset}
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
  igReserve(tokens: string, inflight: string, n: number, tpm: number, conc: number, id: string, lease: number): Promise<[number, number | string, number, number]>;
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

export class RedisBudgetStore implements BudgetStore {
  readonly #redis: Redis & Scripts;
  readonly #prefix: string;
  readonly #leaseMs: number;

  constructor(options: RedisBudgetStoreOptions) {
    this.#prefix = options.prefix ?? 'infergate:budget:';
    this.#leaseMs = options.leaseMs ?? 600_000;
    // No offline queue: while the server is unreachable a reservation fails at once (and the failure mode decides), not after a pile-up.
    const redis = new Redis(options.url, { lazyConnect: true, enableOfflineQueue: false, maxRetriesPerRequest: 0, commandTimeout: options.commandTimeoutMs ?? 500 });
    redis.defineCommand('igReserve', { numberOfKeys: 2, lua: RESERVE });
    redis.defineCommand('igSettle', { numberOfKeys: 2, lua: SETTLE });
    redis.defineCommand('igUsed', { numberOfKeys: 1, lua: USED });
    // Errors are reported by the commands that meet them; ioredis keeps reconnecting.
    redis.on('error', () => {});
    this.#redis = redis as Redis & Scripts;
  }

  /** Connect (and check the server answers); rejects when it cannot. */
  async connect(): Promise<void> {
    await this.#redis.connect();
    await this.#redis.ping();
  }

  async reserve(tenant: string, tokens: number, limits: BudgetLimits): Promise<ReserveResult> {
    const id = randomUUID();
    const [ok, a, remaining, ms] = await this.#redis.igReserve(this.#key(tenant, 'tokens'), this.#key(tenant, 'inflight'), tokens, limits.tokensPerMinute, limits.maxConcurrent, id, this.#leaseMs);
    const left = remaining < 0 ? Infinity : remaining;
    if (ok === 1) return { ok: true, held: { slot: Number(a), id }, remainingTokens: left, resetMs: ms };
    return { ok: false, limit: a === 'concurrency' ? 'concurrency' : 'tokens', remainingTokens: left, retryAfterMs: ms };
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
