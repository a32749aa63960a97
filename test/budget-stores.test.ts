/**
 * The two token-budget stores against one contract: the in-process one, and
 * the Redis one against a real redis-server (Lua scripts, the server's clock,
 * leases). Window ageing is checked with a fake clock on the in-process store
 * (the Redis one reads the server's clock), and a property test holds the
 * window arithmetic to "never more than the budget in any 60 s".
 */
import fc from 'fast-check';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MemoryBudgetStore, SLOT_MS, type BudgetStore } from '../src/budgets/store.ts';
import { RedisBudgetStore } from '../src/runtime/node/redis-budgets.ts';
import { startRedis, type RunningRedis } from './redis-server.ts';

let redis: RunningRedis;
const stores: BudgetStore[] = [];
beforeAll(async () => {
  redis = await startRedis();
}, 15_000);
afterAll(async () => {
  for (const s of stores) await s.close?.();
  await redis?.close();
});

let tenants = 0;
const fresh = () => `tenant-${++tenants}-${Math.random().toString(36).slice(2, 8)}`;

const makers: Record<string, () => Promise<BudgetStore>> = {
  memory: async () => new MemoryBudgetStore(),
  redis: async () => {
    const s = new RedisBudgetStore({ url: redis.url });
    await s.connect();
    stores.push(s);
    return s;
  },
};

describe.each(Object.keys(makers))('%s budget store', (kind) => {
  it('charges reservations until the budget is spent, then refuses with when to retry', async () => {
    const store = await makers[kind]!();
    const t = fresh();
    const limits = { tokensPerMinute: 1000, maxConcurrent: 0 };
    const a = await store.reserve(t, 400, limits);
    expect(a).toMatchObject({ ok: true, remainingTokens: 600 });
    expect(a.ok && a.resetMs).toBeGreaterThan(58_000);
    expect(a.ok && a.resetMs).toBeLessThanOrEqual(60_000);
    expect(await store.reserve(t, 600, limits)).toMatchObject({ ok: true, remainingTokens: 0 });
    const refused = await store.reserve(t, 1, limits);
    expect(refused).toMatchObject({ ok: false, limit: 'tokens', remainingTokens: 0 });
    expect(!refused.ok && refused.retryAfterMs).toBeGreaterThan(58_000);
    expect(await store.used(t)).toBe(1000);
  });

  it('settling corrects the charge to what was used, and frees the place in flight', async () => {
    const store = await makers[kind]!();
    const t = fresh();
    const limits = { tokensPerMinute: 1000, maxConcurrent: 1 };
    const a = await store.reserve(t, 500, limits);
    if (!a.ok) throw new Error('refused');
    const busy = await store.reserve(t, 10, limits);
    expect(busy).toMatchObject({ ok: false, limit: 'concurrency', retryAfterMs: 1000 });
    // When the whole budget is back (x-ratelimit-reset-tokens): the window's, not the retry's 1 s.
    expect(!busy.ok && busy.resetMs).toBeGreaterThan(58_000);
    await store.settle(t, a.held, 500, 123);
    expect(await store.used(t)).toBe(123);
    // Using more than was reserved is charged too.
    const b = await store.reserve(t, 100, limits);
    if (!b.ok) throw new Error('refused');
    await store.settle(t, b.held, 100, 250);
    expect(await store.used(t)).toBe(373);
    expect(await store.reserve(t, 627, limits)).toMatchObject({ ok: true, remainingTokens: 0 });
  });

  it('no token limit: only requests in flight are counted', async () => {
    const store = await makers[kind]!();
    const t = fresh();
    const limits = { tokensPerMinute: 0, maxConcurrent: 2 };
    const held = [await store.reserve(t, 1e9, limits), await store.reserve(t, 1e9, limits)];
    expect(held.every((h) => h.ok)).toBe(true);
    expect(await store.reserve(t, 1, limits)).toMatchObject({ ok: false, limit: 'concurrency' });
    const first = held[0]!;
    if (first.ok) await store.settle(t, first.held, 1e9, 5);
    expect((await store.reserve(t, 1, limits)).ok).toBe(true);
  });

  it('tenants are separate', async () => {
    const store = await makers[kind]!();
    const [a, b] = [fresh(), fresh()];
    const limits = { tokensPerMinute: 100, maxConcurrent: 0 };
    expect((await store.reserve(a, 100, limits)).ok).toBe(true);
    expect((await store.reserve(b, 100, limits)).ok).toBe(true);
    expect((await store.reserve(a, 1, limits)).ok).toBe(false);
  });
});

describe('redis budget store', () => {
  it('two gateways reserving at once never take more than the budget (one atomic script each)', async () => {
    const [s1, s2] = [await makers.redis!(), await makers.redis!()];
    const t = fresh();
    const limits = { tokensPerMinute: 10_000, maxConcurrent: 0 };
    const results = await Promise.all(Array.from({ length: 200 }, (_, i) => (i % 2 ? s1 : s2).reserve(t, 170, limits)));
    const granted = results.filter((r) => r.ok).length;
    expect(granted).toBe(Math.floor(10_000 / 170));
    expect(await s1.used(t)).toBe(granted * 170);
  });

  it('a place in flight held by a replica that died ends with its lease', async () => {
    const store = new RedisBudgetStore({ url: redis.url, leaseMs: 300 });
    await store.connect();
    stores.push(store);
    const t = fresh();
    const limits = { tokensPerMinute: 0, maxConcurrent: 1 };
    expect((await store.reserve(t, 1, limits)).ok).toBe(true); // never settled
    expect((await store.reserve(t, 1, limits)).ok).toBe(false);
    await new Promise((r) => setTimeout(r, 400));
    expect((await store.reserve(t, 1, limits)).ok).toBe(true);
  });

  it('a reservation the client gave up on leaves nothing behind when the server runs it late', async () => {
    const store = new RedisBudgetStore({ url: redis.url, prefix: 'late:', commandTimeoutMs: 100 });
    await store.connect();
    stores.push(store);
    const admin = new Redis(redis.url);
    const t = fresh();
    const limits = { tokensPerMinute: 1000, maxConcurrent: 1 };
    try {
      // The server holds every write until told (a slow command, a failover): the reservation waits there, the client stops waiting.
      await admin.call('CLIENT', 'PAUSE', '30000', 'WRITE');
      await expect(store.reserve(t, 50, limits)).rejects.toThrow(/timed out/);
      await admin.call('CLIENT', 'UNPAUSE');
      // Asked on the store's connection: answered after whatever the store sent before.
      expect(await store.used(t)).toBe(0);
      expect(await admin.zcard(`late:{${t}}:inflight`)).toBe(0);
      expect(await store.reserve(t, 50, limits)).toMatchObject({ ok: true, remainingTokens: 950 });
    } finally {
      await admin.call('CLIENT', 'UNPAUSE').catch(() => {});
      await admin.quit();
    }
  });

  it('an unreachable server fails the reservation at once (no queueing while it is down)', async () => {
    const store = new RedisBudgetStore({ url: 'redis://127.0.0.1:1' });
    stores.push(store);
    await expect(store.connect()).rejects.toThrow();
    const started = performance.now();
    await expect(store.reserve('x', 1, { tokensPerMinute: 10, maxConcurrent: 0 })).rejects.toThrow();
    expect(performance.now() - started).toBeLessThan(1000);
  });
});

describe('in-process budget store, on a fake clock', () => {
  it('tokens leave the window 60 s after the second they were charged in', () => {
    let now = 1_000_000;
    const store = new MemoryBudgetStore(() => now);
    const limits = { tokensPerMinute: 100, maxConcurrent: 0 };
    expect(store.reserve('t', 60, limits).ok).toBe(true);
    now += 30_000;
    expect(store.reserve('t', 40, limits).ok).toBe(true);
    const refused = store.reserve('t', 50, limits);
    // The first 60 leave at 60 s after the first reservation: 30 s from now.
    expect(refused).toMatchObject({ ok: false, limit: 'tokens', retryAfterMs: 30_000 });
    now += 30_000;
    expect(store.used('t')).toBe(40);
    expect(store.reserve('t', 50, limits).ok).toBe(true);
  });

  it('forgets a tenant with nothing in flight and nothing left in its window', () => {
    let now = 1_000_000;
    const store = new MemoryBudgetStore(() => now);
    const limits = { tokensPerMinute: 1000, maxConcurrent: 0 };
    for (let i = 0; i < 1000; i++) {
      const r = store.reserve(`once-${i}`, 10, limits);
      if (r.ok) store.settle(`once-${i}`, r.held, 10, 10);
    }
    expect(store.reserve('in-flight', 10, limits).ok).toBe(true); // never settled
    expect(store.tenants).toBe(1001);
    now += 30_000;
    const late = store.reserve('recent', 10, limits);
    if (late.ok) store.settle('recent', late.held, 10, 10);
    now += 31_000;
    // The one-off tenants' charges have left the window: forgotten, as if new.
    expect(store.reserve('next', 10, limits).ok).toBe(true);
    expect(store.tenants).toBe(3);
    expect(store.used('once-1')).toBe(0);
    expect(store.used('recent')).toBe(10);
    expect(store.reserve('in-flight', 1000, { tokensPerMinute: 1000, maxConcurrent: 1 })).toMatchObject({ ok: false, limit: 'concurrency' });
  });

  it('property: with answers using at most their reservation, no 60 s ever holds more than the budget', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 50, max: 5000 }),
        fc.array(fc.record({ dt: fc.integer({ min: 0, max: 20_000 }), tokens: fc.integer({ min: 1, max: 2000 }), used: fc.double({ min: 0, max: 1, noNaN: true }) }), { maxLength: 200 }),
        (budget, steps) => {
          let now = 0;
          const store = new MemoryBudgetStore(() => now);
          const charges: { at: number; tokens: number }[] = [];
          for (const step of steps) {
            now += step.dt;
            const r = store.reserve('t', step.tokens, { tokensPerMinute: budget, maxConcurrent: 0 });
            if (!r.ok) continue;
            const actual = Math.floor(step.tokens * step.used);
            store.settle('t', r.held, step.tokens, actual);
            charges.push({ at: Math.floor(now / SLOT_MS), tokens: actual });
            // Every window of 60 slots ending now holds at most the budget.
            const slot = Math.floor(now / SLOT_MS);
            const inWindow = charges.filter((c) => c.at > slot - 60).reduce((s, c) => s + c.tokens, 0);
            if (inWindow > budget) return false;
            if (store.used('t') !== inWindow) return false;
          }
          return true;
        },
      ),
      { numRuns: 300 },
    );
  });
});
