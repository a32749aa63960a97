/**
 * Token budgets, reserved up front: before a request is queued or sent, its
 * tenant's budget (a TokenBudget in the routing table: tokens per minute,
 * requests in flight) is charged what the request may cost — its estimated
 * prompt plus the most it may write (estimate.ts). A request that does not
 * fit is refused there, with 429, Retry-After and OpenAI's rate-limit headers,
 * before any pod sees it. When the request ends (observer `finished`), the
 * charge is corrected to what the answer's `usage` says it used; an answer
 * without usage (a stream without `stream_options.include_usage`) keeps its
 * reservation, an answer that failed or never came is charged nothing.
 *
 * Charging after the answer (as a gateway that only reads `usage` does) lets a
 * burst of long requests all start while the budget still looks unspent; a
 * reservation is taken before the request starts, so a tenant can overshoot
 * its budget only by what answers use beyond their reservation.
 */
import { GatewayError } from '../api/errors.ts';
import type { ParsedRequest } from '../api/openai.ts';
import type { ObservedRequest, RequestObserver } from '../proxy/observer.ts';
import type { TokenBudget } from '../routing/schema.ts';
import { estimatePromptTokens, maxOutputTokens } from './estimate.ts';
import type { BudgetStore, Held, ReserveResult } from './store.ts';

/** The TokenBudget whose tenant is `*` holds every tenant that has none of its own (each to its own window). */
export const ANY_TENANT = '*';

/** What a request was charged, kept on its record until it ends. */
export interface BudgetCharge {
  tenant: string;
  held: Held;
  reserved: number;
}

/** Reserved (`charge`; none when the store failed and the mode is FailOpen), with the headers for the answer; or refused. */
export type BudgetCheck = { charge?: BudgetCharge; headers: Record<string, string> } | { refused: GatewayError };

/** What happens when the store cannot be reached: Envoy's rate-limit filter fails open by default, and so does this. */
export type BudgetFailureMode = 'FailOpen' | 'FailClose';

export class TokenBudgets implements RequestObserver {
  readonly #store: BudgetStore;
  readonly #failureMode: BudgetFailureMode;
  readonly #log: (line: Record<string, unknown>) => void;
  #lastStoreError = 0;
  /** Requests let through (FailOpen) or refused (FailClose) because the store failed. */
  storeErrors = 0;

  readonly #keepAlive: ((r: ObservedRequest, settled: Promise<unknown>) => void) | undefined;

  /**
   * `keepAlive` is handed each settlement still running when the request ends
   * (a platform that stops a request's work with its answer, Workers, keeps it
   * alive with the request's waitUntil).
   */
  constructor(store: BudgetStore, options: { failureMode?: BudgetFailureMode; log?: (line: Record<string, unknown>) => void; keepAlive?: (r: ObservedRequest, settled: Promise<unknown>) => void } = {}) {
    this.#store = store;
    this.#keepAlive = options.keepAlive;
    this.#failureMode = options.failureMode ?? 'FailOpen';
    this.#log = options.log ?? (() => {});
  }

  get store(): BudgetStore {
    return this.#store;
  }

  /** The budget `tenant` is held to, if any. */
  static budgetFor(budgets: ReadonlyMap<string, TokenBudget>, tenant: string): TokenBudget | undefined {
    return budgets.get(tenant) ?? budgets.get(ANY_TENANT);
  }

  /** Reserve what `parsed` may cost against `budget`; refused when it does not fit. */
  async reserve(budget: TokenBudget, tenant: string, parsed: Pick<ParsedRequest, 'kind' | 'body'>): Promise<BudgetCheck> {
    const reserved = estimatePromptTokens(parsed) + maxOutputTokens(parsed, budget.defaultMaxTokens);
    const limit = budget.tokensPerMinute;
    if (limit > 0 && reserved > limit) {
      return {
        refused: rateLimited(
          'tokens',
          `Request too large for tenant "${tenant}" on tokens per min (TPM): Limit ${limit}, Requested ${reserved} (the prompt's estimated tokens plus max_tokens). Lower max_tokens or shorten the prompt; waiting will not help.`,
          { 'x-ratelimit-limit-tokens': String(limit), 'x-ratelimit-remaining-tokens': String(limit) },
        ),
      };
    }
    let result: ReserveResult;
    try {
      result = await this.#store.reserve(tenant, reserved, { tokensPerMinute: limit, maxConcurrent: budget.maxConcurrentRequests });
    } catch (err) {
      // The store has reserved nothing (BudgetStore.reserve: a reservation it gave up on is cancelled), so nothing is left to settle.
      return this.#storeFailed(err, tenant);
    }
    if (!result.ok) {
      const seconds = Math.max(1, Math.ceil(result.retryAfterMs / 1000));
      const headers: Record<string, string> = { 'retry-after': String(seconds) };
      // Retry-After says when this request would fit; x-ratelimit-reset-tokens, as OpenAI's, when the whole budget is back.
      if (limit > 0) Object.assign(headers, tokenHeaders(limit, result.remainingTokens, result.resetMs));
      const message =
        result.limit === 'concurrency'
          ? `Rate limit reached for tenant "${tenant}" on requests in flight: Limit ${budget.maxConcurrentRequests}. Please try again in ${seconds}s, or send fewer requests at once.`
          : `Rate limit reached for tenant "${tenant}" on tokens per min (TPM): Limit ${limit}, Remaining ${result.remainingTokens}, Requested ${reserved} (the prompt's estimated tokens plus max_tokens). Please try again in ${goDuration(result.retryAfterMs)}.`;
      return { refused: rateLimited(result.limit === 'concurrency' ? 'requests' : 'tokens', message, headers) };
    }
    return { charge: { tenant, held: result.held, reserved }, headers: limit > 0 ? tokenHeaders(limit, result.remainingTokens, result.resetMs) : {} };
  }

  /** The request is over: correct its charge to its usage and free its place in flight. */
  finished(r: ObservedRequest): void {
    const charge = r.budget as BudgetCharge | undefined;
    if (!charge) return;
    r.budget = undefined;
    const actual = chargedTokens(r, charge.reserved);
    r.chargedTokens = actual;
    try {
      const settled = this.#store.settle(charge.tenant, charge.held, charge.reserved, actual);
      if (settled) this.#keepAlive?.(r, settled.catch((err: unknown) => this.#logStoreError(err, charge.tenant)));
    } catch (err) {
      this.#logStoreError(err, charge.tenant);
    }
  }

  #storeFailed(err: unknown, tenant: string): BudgetCheck {
    this.storeErrors++;
    this.#logStoreError(err, tenant);
    if (this.#failureMode === 'FailOpen') return { headers: {} };
    return {
      refused: new GatewayError({
        status: 503,
        type: 'service_unavailable_error',
        code: 'budget_store_unavailable',
        message: "The gateway cannot reach its token-budget store, and is set to refuse requests then (--budget-failure-mode FailClose). Retry shortly.",
        headers: { 'retry-after': '1' },
      }),
    };
  }

  #logStoreError(err: unknown, tenant: string): void {
    const now = Date.now();
    if (now - this.#lastStoreError < 5000) return;
    this.#lastStoreError = now;
    this.#log({ level: 'error', msg: `token-budget store failed (${this.#failureMode}: requests are ${this.#failureMode === 'FailOpen' ? 'let through uncounted' : 'refused'})`, tenant, error: String((err as Error)?.message ?? err) });
  }
}

/**
 * Tokens the request is charged when it ends: its answer's usage; the whole
 * reservation when an answer was served without usage (a stream without
 * `include_usage`: what it used is unknown, and the reservation bounds it);
 * nothing when no pod answered successfully.
 */
export function chargedTokens(r: ObservedRequest, reserved: number): number {
  if (r.usage) return r.usage.input + r.usage.output;
  if (r.answered && r.status > 0 && r.status < 400) return reserved;
  return 0;
}

function rateLimited(type: 'tokens' | 'requests', message: string, headers: Record<string, string>): GatewayError {
  // OpenAI's own rate-limit error: type names the limit, code rate_limit_exceeded.
  return new GatewayError({ status: 429, type, code: 'rate_limit_exceeded', message, headers });
}

/** OpenAI's token rate-limit headers. */
function tokenHeaders(limit: number, remaining: number, resetMs: number): Record<string, string> {
  return { 'x-ratelimit-limit-tokens': String(limit), 'x-ratelimit-remaining-tokens': String(Math.max(0, Math.floor(remaining))), 'x-ratelimit-reset-tokens': goDuration(resetMs) };
}

/** A duration as OpenAI's headers write it (Go's style): `250ms`, `7.5s`, `1m0s`. */
export function goDuration(ms: number): string {
  const m = Math.max(0, Math.ceil(ms));
  if (m < 1000) return `${m}ms`;
  const s = m / 1000;
  if (s < 60) return `${+s.toFixed(3)}s`;
  return `${Math.floor(s / 60)}m${+(s % 60).toFixed(3)}s`;
}
