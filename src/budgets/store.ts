/**
 * Where token budgets are kept: in this process, or — when several gateway
 * replicas must share them — in Redis/Valkey (src/runtime/node/redis-budgets.ts),
 * where each reservation is one atomic script.
 *
 * A budget is tokens per minute over a sliding window of sixty one-second
 * slots (the sum of the last 60 s, not a bucket that refills: a tenant can
 * never spend more than its budget in any 60 s, except by what answers use
 * beyond their reservation) and a number of requests in flight.
 */

export interface BudgetLimits {
  /** Tokens in any 60 s (0: no limit). */
  tokensPerMinute: number;
  /** Requests in flight at once (0: no limit). */
  maxConcurrent: number;
}

export type ReserveResult =
  | { ok: true; slot: number; remainingTokens: number; resetMs: number }
  | { ok: false; limit: 'tokens' | 'concurrency'; remainingTokens: number; retryAfterMs: number };

export interface BudgetStore {
  /**
   * Take `tokens` and one request in flight for `tenant` if both fit, at
   * `now` (ms): ok with the window slot charged (pass it back to settle), or
   * which limit refused and when to retry.
   */
  reserve(tenant: string, tokens: number, limits: BudgetLimits, now: number): ReserveResult | Promise<ReserveResult>;
  /** The request ended: its slot is charged `actual` instead of `reserved`, and its place in flight freed. */
  settle(tenant: string, slot: number, reserved: number, actual: number): void | Promise<void>;
  close?(): void | Promise<void>;
}

export const WINDOW_SLOTS = 60;
export const SLOT_MS = 1000;

interface TenantWindow {
  /** Tokens charged per second slot, by slot number mod 60. */
  tokens: Float64Array;
  /** The slot number each entry belongs to (so stale ones read as 0). */
  slotOf: Float64Array;
  inFlight: number;
}

/** Budgets in this process: a single gateway needs no store at all. */
export class MemoryBudgetStore implements BudgetStore {
  readonly #tenants = new Map<string, TenantWindow>();

  reserve(tenant: string, tokens: number, limits: BudgetLimits, now: number): ReserveResult {
    const w = this.#window(tenant);
    const slot = Math.floor(now / SLOT_MS);
    let used = 0;
    for (let i = 0; i < WINDOW_SLOTS; i++) if (w.slotOf[i]! > slot - WINDOW_SLOTS) used += w.tokens[i]!;
    const remaining = limits.tokensPerMinute > 0 ? Math.max(0, limits.tokensPerMinute - used) : Infinity;
    if (limits.maxConcurrent > 0 && w.inFlight >= limits.maxConcurrent) {
      return { ok: false, limit: 'concurrency', remainingTokens: remaining, retryAfterMs: SLOT_MS };
    }
    if (limits.tokensPerMinute > 0 && used + tokens > limits.tokensPerMinute) {
      return { ok: false, limit: 'tokens', remainingTokens: remaining, retryAfterMs: this.#freedAfter(w, slot, used + tokens - limits.tokensPerMinute, now) };
    }
    const k = slot % WINDOW_SLOTS;
    if (w.slotOf[k] !== slot) {
      w.slotOf[k] = slot;
      w.tokens[k] = 0;
    }
    w.tokens[k] = w.tokens[k]! + tokens;
    w.inFlight++;
    return { ok: true, slot, remainingTokens: remaining - tokens, resetMs: this.#freedAfter(w, slot, 1, now) };
  }

  settle(tenant: string, slot: number, reserved: number, actual: number): void {
    const w = this.#window(tenant);
    w.inFlight = Math.max(0, w.inFlight - 1);
    const k = slot % WINDOW_SLOTS;
    // A slot already out of the window needs no correction: it no longer counts.
    if (w.slotOf[k] === slot) w.tokens[k] = w.tokens[k]! + actual - reserved;
  }

  /** What a tenant has charged in the window now (tests, the dashboard). */
  used(tenant: string, now: number): number {
    const w = this.#tenants.get(tenant);
    if (!w) return 0;
    const slot = Math.floor(now / SLOT_MS);
    let used = 0;
    for (let i = 0; i < WINDOW_SLOTS; i++) if (w.slotOf[i]! > slot - WINDOW_SLOTS) used += w.tokens[i]!;
    return used;
  }

  /** When `need` tokens will have left the window, ms from now. */
  #freedAfter(w: TenantWindow, slot: number, need: number, now: number): number {
    let freed = 0;
    for (let s = slot - WINDOW_SLOTS + 1; s <= slot; s++) {
      const k = ((s % WINDOW_SLOTS) + WINDOW_SLOTS) % WINDOW_SLOTS;
      if (w.slotOf[k] === s) freed += w.tokens[k]!;
      if (freed >= need) return Math.max(1, (s + WINDOW_SLOTS) * SLOT_MS - now);
    }
    return WINDOW_SLOTS * SLOT_MS;
  }

  #window(tenant: string): TenantWindow {
    let w = this.#tenants.get(tenant);
    if (!w) this.#tenants.set(tenant, (w = { tokens: new Float64Array(WINDOW_SLOTS), slotOf: new Float64Array(WINDOW_SLOTS).fill(-Infinity), inFlight: 0 }));
    return w;
  }
}
