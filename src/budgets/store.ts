/**
 * Where token budgets are kept: in this process, or — when several gateway
 * replicas must share them — in Redis/Valkey (src/runtime/node/redis-budgets.ts),
 * where each reservation and each settlement is one atomic script.
 *
 * A budget is tokens per minute over a sliding window of sixty one-second
 * slots (the sum of the last 60 s, not a bucket that refills: a tenant can
 * never be charged more than its budget in any 60 s, except by what answers
 * use beyond their reservation) and a number of requests in flight.
 *
 * Both stores implement the same arithmetic (`windowUse` and `freedAfter`
 * below; the Redis script is its Lua transcription), and one contract test
 * (test/budget-stores.test.ts) runs against both.
 */

export interface BudgetLimits {
  /** Tokens in any 60 s (0: no limit). */
  tokensPerMinute: number;
  /** Requests in flight at once (0: no limit). */
  maxConcurrent: number;
}

/** A reservation's handle: pass it back to `settle`. */
export interface Held {
  /** The one-second slot the tokens were charged to. */
  slot: number;
  /** This reservation's place in flight (the Redis store's lease member). */
  id: string;
}

/** `resetMs`: when the window is empty again, ms (OpenAI's x-ratelimit-reset-tokens); `retryAfterMs`: when this request would fit. */
export type ReserveResult =
  | { ok: true; held: Held; remainingTokens: number; resetMs: number }
  | { ok: false; limit: 'tokens' | 'concurrency'; remainingTokens: number; retryAfterMs: number; resetMs: number };

export interface BudgetStore {
  /**
   * Take `tokens` and one request in flight for `tenant` if both fit: ok with
   * the handle to settle with, what remains of the window and when it is
   * whole again; or which limit refused and when to retry. One that throws
   * has reserved nothing (the caller lets the request through uncounted, or
   * refuses it: either way nothing will settle it).
   */
  reserve(tenant: string, tokens: number, limits: BudgetLimits): ReserveResult | Promise<ReserveResult>;
  /** The request ended: its slot is charged `actual` instead of `reserved`, and its place in flight freed. */
  settle(tenant: string, held: Held, reserved: number, actual: number): void | Promise<void>;
  /** Tokens charged to `tenant` in the window now (tests, the dashboard). */
  used(tenant: string): number | Promise<number>;
  close?(): void | Promise<void>;
}

export const WINDOW_SLOTS = 60;
export const SLOT_MS = 1000;

/** Tokens charged in the window that ends with `slot`; `charged(s)` is slot s's charge (0 when none). */
export function windowUse(slot: number, charged: (s: number) => number): number {
  let used = 0;
  for (let s = slot - WINDOW_SLOTS + 1; s <= slot; s++) used += charged(s);
  return used;
}

/**
 * When (ms after `now`) `need` tokens of the window ending with `slot` will
 * have left it: the slots leave oldest first, slot s at (s + 60) s.
 */
export function freedAfter(slot: number, need: number, now: number, charged: (s: number) => number): number {
  let freed = 0;
  for (let s = slot - WINDOW_SLOTS + 1; s <= slot; s++) {
    freed += charged(s);
    if (freed >= need) return Math.max(1, (s + WINDOW_SLOTS) * SLOT_MS - now);
  }
  return WINDOW_SLOTS * SLOT_MS;
}

/** When the window is empty again (OpenAI's x-ratelimit-reset-tokens: back to the whole budget), ms after `now`. */
export function resetAfter(slot: number, now: number, charged: (s: number) => number): number {
  for (let s = slot; s > slot - WINDOW_SLOTS; s--) if (charged(s) !== 0) return Math.max(1, (s + WINDOW_SLOTS) * SLOT_MS - now);
  return 0;
}

interface TenantWindow {
  /** Tokens charged per second slot, by slot number mod 60. */
  tokens: Float64Array;
  /** The slot number each entry belongs to (so stale ones read as 0). */
  slotOf: Float64Array;
  /** The latest slot charged: once it has left the window, so has every charge. */
  lastSlot: number;
  inFlight: number;
}

/** Budgets in this process: a single gateway needs no store at all. */
export class MemoryBudgetStore implements BudgetStore {
  readonly #tenants = new Map<string, TenantWindow>();
  readonly #now: () => number;
  #ids = 0;
  /** When tenants are next looked over (see #forgetIdle). */
  #sweepAt = -Infinity;

  constructor(now: () => number = Date.now) {
    this.#now = now;
  }

  /** Tenants whose state is kept (tests, the dashboard). */
  get tenants(): number {
    return this.#tenants.size;
  }

  reserve(tenant: string, tokens: number, limits: BudgetLimits): ReserveResult {
    const now = this.#now();
    if (now >= this.#sweepAt) this.#forgetIdle(now);
    const w = this.#window(tenant);
    const slot = Math.floor(now / SLOT_MS);
    const charged = chargedIn(w);
    const used = windowUse(slot, charged);
    const remaining = limits.tokensPerMinute > 0 ? Math.max(0, limits.tokensPerMinute - used) : Infinity;
    if (limits.maxConcurrent > 0 && w.inFlight >= limits.maxConcurrent) {
      return { ok: false, limit: 'concurrency', remainingTokens: remaining, retryAfterMs: SLOT_MS, resetMs: resetAfter(slot, now, charged) };
    }
    if (limits.tokensPerMinute > 0 && used + tokens > limits.tokensPerMinute) {
      return { ok: false, limit: 'tokens', remainingTokens: remaining, retryAfterMs: freedAfter(slot, used + tokens - limits.tokensPerMinute, now, charged), resetMs: resetAfter(slot, now, charged) };
    }
    const k = slot % WINDOW_SLOTS;
    if (w.slotOf[k] !== slot) {
      w.slotOf[k] = slot;
      w.tokens[k] = 0;
    }
    w.tokens[k] = w.tokens[k]! + tokens;
    w.lastSlot = slot;
    w.inFlight++;
    return { ok: true, held: { slot, id: String(++this.#ids) }, remainingTokens: remaining - tokens, resetMs: resetAfter(slot, now, charged) };
  }

  settle(tenant: string, held: Held, reserved: number, actual: number): void {
    const w = this.#tenants.get(tenant);
    if (!w) return;
    w.inFlight = Math.max(0, w.inFlight - 1);
    const k = held.slot % WINDOW_SLOTS;
    // A slot already out of the window needs no correction: it no longer counts.
    if (w.slotOf[k] === held.slot) w.tokens[k] = w.tokens[k]! + actual - reserved;
  }

  used(tenant: string): number {
    const w = this.#tenants.get(tenant);
    return w ? windowUse(Math.floor(this.#now() / SLOT_MS), chargedIn(w)) : 0;
  }

  #window(tenant: string): TenantWindow {
    let w = this.#tenants.get(tenant);
    if (!w) this.#tenants.set(tenant, (w = { tokens: new Float64Array(WINDOW_SLOTS), slotOf: new Float64Array(WINDOW_SLOTS).fill(-Infinity), lastSlot: -Infinity, inFlight: 0 }));
    return w;
  }

  /**
   * Forget the tenants with nothing in flight and nothing left in the window:
   * they are as if new (with a `*` budget every distinct tenant would else
   * stay, ~1 KB each, for good). Once a window, so a request pays one
   * comparison for it, and a tenant is kept at most two windows past its last
   * request.
   */
  #forgetIdle(now: number): void {
    this.#sweepAt = now + WINDOW_SLOTS * SLOT_MS;
    const stale = Math.floor(now / SLOT_MS) - WINDOW_SLOTS;
    for (const [tenant, w] of this.#tenants) if (w.inFlight === 0 && w.lastSlot <= stale) this.#tenants.delete(tenant);
  }
}

function chargedIn(w: TenantWindow): (s: number) => number {
  return (s) => {
    const k = ((s % WINDOW_SLOTS) + WINDOW_SLOTS) % WINDOW_SLOTS;
    return w.slotOf[k] === s ? w.tokens[k]! : 0;
  };
}
