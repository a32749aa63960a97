/**
 * Token ids from the pool's own pods: vLLM's `POST /tokenize` (chat requests
 * as `messages` with the fields its chat template also renders — tools,
 * kwargs, … — so the engine applies its own chat template; completions as
 * `prompt`), cached per prompt prefix (prompt-cache.ts). A conversation's next
 * turn is decided at once on its previous turn's tokens — every block a pod
 * can hold of this conversation is in them — while the whole prompt is
 * tokenized in the background for the turn after; only a prompt never seen
 * (nor any earlier turn of it) waits for a pod, within `timeoutMs`.
 *
 * Which names are LoRA adapters (the engines key their blocks with the
 * adapter's name) is read from the pods' `GET /v1/models` (vLLM lists an
 * adapter with its base model as `parent`), once a minute per pool.
 */
import * as v from 'valibot';
import type { Endpoint } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import type { PromptTokenizer, TokenizeOutcome } from '../scheduling/prompt-tokens.ts';
import type { SchedulingRequest } from '../scheduling/scheduler.ts';
import { chatKeys, promptScope, PromptTokenCache, type CachedTokens } from './prompt-cache.ts';
import { tokenizeChatFields } from './request-fields.ts';
import { httpOrigin } from '../endpoints/address.ts';

export interface PodTokenizerOptions {
  fetch?: typeof fetch;
  /** A prompt never seen waits this long for a pod's answer before the decision falls back to the guess (llm-d's vllm.timeout is 5 s). */
  timeoutMs?: number;
  cache?: PromptTokenCache;
  /** Whole-prompt tokenizations running in the background at once (more are skipped, not queued). */
  maxBackground?: number;
  modelsTtlMs?: number;
}

/** The answer's shape; the ids themselves are checked in one loop (a pipe per element cost ~1 µs a token). */
const TokenizeResponse = v.object({ tokens: v.array(v.unknown()) });
const ModelsResponse = v.object({ data: v.array(v.looseObject({ id: v.string(), parent: v.optional(v.nullable(v.string())) })) });

export class PodTokenizer implements PromptTokenizer {
  readonly cache: PromptTokenCache;
  readonly #fetch: typeof fetch;
  readonly #timeoutMs: number;
  readonly #maxBackground: number;
  readonly #modelsTtlMs: number;
  readonly #background = new Set<string>();
  readonly #adapters = new Map<string, { at: number; adapters: Set<string> | undefined; pending?: Promise<void> }>();
  #next = 0;
  /** Calls made to pods (for tests and the benchmark). */
  readonly stats = { tokenizeCalls: 0, exactHits: 0, earlierTurnHits: 0, failures: 0 };

  constructor(options: PodTokenizerOptions = {}) {
    this.#fetch = options.fetch ?? ((input, init) => fetch(input, init));
    this.#timeoutMs = options.timeoutMs ?? 1000;
    this.cache = options.cache ?? new PromptTokenCache();
    this.#maxBackground = options.maxBackground ?? 4;
    this.#modelsTtlMs = options.modelsTtlMs ?? 60_000;
  }

  tokenize(pool: Pool, endpoints: readonly Endpoint[], request: SchedulingRequest): TokenizeOutcome | Promise<TokenizeOutcome> {
    const keys = request.messages ? chatKeys(request.targetModel, request.messages, promptScope(request)) : undefined;
    const found = this.cache.find(request, keys);
    if (found && !found.partial) {
      this.stats.exactHits++;
      return { ...found.hit, partial: false, source: 'cache' };
    }
    const pods = endpoints.filter((e) => e.ready);
    if (pods.length === 0) return { error: 'no ready pod to ask for /tokenize' };
    const whole = this.#tokenizeWhole(pool, pods, request, keys);
    if (found) {
      this.stats.earlierTurnHits++;
      const key = keys?.at(-1) ?? request.prompt;
      if (!this.#background.has(key) && this.#background.size < this.#maxBackground) {
        this.#background.add(key);
        void whole.finally(() => this.#background.delete(key));
      }
      return { ...found.hit, partial: true, source: 'cache (an earlier turn)' };
    }
    return whole;
  }

  async #tokenizeWhole(pool: Pool, pods: readonly Endpoint[], request: SchedulingRequest, keys: string[] | undefined): Promise<TokenizeOutcome> {
    // The least busy pod answers (its API server tokenizes; the engine's queue is not involved).
    const pod = pods.reduce((best, e) => (load(e) < load(best) ? e : best), pods[this.#next++ % pods.length]!);
    const base = httpOrigin(pod.address, pod.port);
    // A chat request's tools, template kwargs, … change what the engine's template renders: sent along.
    const body = request.messages
      ? { model: request.targetModel, messages: request.messages, ...tokenizeChatFields(request.chatTemplate) }
      : { model: request.targetModel, prompt: request.prompt };
    try {
      const [res, adapters] = await Promise.all([this.#post(`${base}/tokenize`, body), this.#adaptersOf(pool, base)]);
      const tokens = Uint32Array.from(res.tokens);
      const value: CachedTokens = { tokens, loraName: adapters?.has(request.targetModel) ? request.targetModel : null };
      this.cache.store(request, value, keys);
      this.stats.tokenizeCalls++;
      return { ...value, partial: false, source: `pod ${pod.id} /tokenize` };
    } catch (err) {
      this.stats.failures++;
      return { error: `pod ${pod.id} /tokenize: ${(err as Error).message}` };
    }
  }

  async #post(url: string, body: unknown): Promise<{ tokens: number[] }> {
    const res = await this.#fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal: AbortSignal.timeout(this.#timeoutMs) });
    const text = await res.text();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}: ${text.slice(0, 200)}`);
    const parsed = v.safeParse(TokenizeResponse, JSON.parse(text));
    if (!parsed.success) throw new Error(`unexpected answer: ${parsed.issues[0].message} (at ${parsed.issues[0].path?.map((p) => p.key).join('.') ?? 'top'})`);
    const tokens = parsed.output.tokens;
    for (let i = 0; i < tokens.length; i++) {
      const t = tokens[i];
      if (typeof t !== 'number' || !Number.isInteger(t) || t < 0 || t > 0xffffffff) throw new Error(`unexpected answer: tokens[${i}] is ${JSON.stringify(t)}, not a token id`);
    }
    return { tokens: tokens as number[] };
  }

  /** The pool's adapter names (undefined when the pods do not say). */
  async #adaptersOf(pool: Pool, base: string): Promise<Set<string> | undefined> {
    let known = this.#adapters.get(pool.name);
    if (known && (Date.now() - known.at < this.#modelsTtlMs || known.pending)) {
      if (known.pending && !known.adapters) await known.pending;
      return known.adapters;
    }
    known = { at: Date.now(), adapters: known?.adapters };
    this.#adapters.set(pool.name, known);
    const entry = known;
    entry.pending = (async () => {
      try {
        const res = await this.#fetch(`${base}/v1/models`, { signal: AbortSignal.timeout(this.#timeoutMs) });
        const parsed = v.safeParse(ModelsResponse, await res.json());
        if (parsed.success) entry.adapters = new Set(parsed.output.data.filter((m) => m.parent).map((m) => m.id));
      } catch {
        // Unknown: every name counts as a base model (an adapter's blocks then never match; the guess still works).
        entry.adapters ??= new Set();
      } finally {
        entry.pending = undefined;
      }
    })();
    await entry.pending;
    return entry.adapters;
  }
}

function load(e: Endpoint): number {
  return e.metrics ? e.metrics.waiting + e.metrics.running : 0;
}
