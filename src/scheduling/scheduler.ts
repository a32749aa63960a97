/**
 * The endpoint picker's contract with the data path: given the pool, its
 * current snapshot and what the request needs, decide where it goes — or
 * that it is shed, or that nothing can serve it.
 */
import type { Criticality, Pool } from '../routing/schema.ts';
import type { EndpointHints } from '../routing/resolve.ts';
import type { Endpoint, PoolSnapshot } from '../endpoints/types.ts';
import type { SaturationConfig } from './config.ts';

export interface SchedulingRequest {
  /** The request's id for logs and headers (x-request-id): the client's when it sent one, and clients may repeat one. */
  requestId: string;
  /**
   * What the in-flight bookkeeping knows the request by (its dispatch, first token and end): unique among the
   * gateway's requests — the director gives each its own. `requestId` stands in where it is absent (callers whose
   * ids are unique: tests, benchmarks).
   */
  key?: string;
  /** The model name sent upstream (the target model: base model or LoRA adapter). */
  targetModel: string;
  /** The name the client asked for. */
  requestedModel: string;
  /** Text the prefix cache sees: chat messages' roles and contents concatenated, or the prompt. */
  prompt: string;
  /** A chat request's messages as the client sent them (for /tokenize or a chat template: precise prefix matching). */
  messages?: readonly ChatMessage[];
  /** What else of a chat request its chat template renders (tools, kwargs, …): the prompt's tokens depend on them. */
  chatTemplate?: ChatTemplateFields;
  /** The request's `cache_salt` (chat and completions): vLLM puts it in the first block's hash (precise prefix matching). */
  cacheSalt?: string;
  criticality: Criticality;
  /** Higher is more important; below 0 is sheddable. */
  priority: number;
  /** Include a decision explanation in the result. */
  explain: boolean;
  /** The endpoints the caller named: `x-gateway-destination-endpoint-subset` (strict), `test-epp-endpoint-selection` (conformance). */
  hints?: EndpointHints;
  /** The tenant of the client's API key, when the gateway checks keys. */
  tenant?: string;
  /** Flow control's fairness id (x-llm-d-inference-fairness-id); the tenant, else `default-flow`, when absent. */
  fairnessId?: string;
  /** The request's own queue-wait budget (x-llm-d-inference-ttl), ms. */
  ttlMs?: number;
  /** Its time-to-first-token objective (x-llm-d-slo-ttft-ms), ms. */
  sloTtftMs?: number;
}

/** The request's in-flight key (see SchedulingRequest.key). */
export function requestKey(request: Pick<SchedulingRequest, 'key' | 'requestId'>): string {
  return request.key ?? request.requestId;
}

/**
 * The fields of a chat request besides its messages that change the text its
 * chat template renders, as the client sent them (vLLM's chat request and its
 * `/tokenize` both take them; absent: the engine's defaults).
 */
export interface ChatTemplateFields {
  tools?: readonly unknown[];
  chat_template?: string;
  chat_template_kwargs?: Readonly<Record<string, unknown>>;
  add_generation_prompt?: boolean;
  continue_final_message?: boolean;
}

/** A chat message as the OpenAI API carries it (other fields, e.g. tool_calls, pass through). */
export interface ChatMessage {
  role: string;
  content?: unknown;
  [field: string]: unknown;
}

export interface DecisionExplanation {
  profile: string;
  [key: string]: unknown;
}

export type Decision =
  | {
      kind: 'route';
      endpoint: Endpoint;
      /** Where to try next if the chosen endpoint refuses the connection, best first. */
      fallbacks: Endpoint[];
      explain?: DecisionExplanation;
      /** Response headers to set to the endpoint that served (`address:port`), e.g. the conformance suite's `x-conformance-test-served-endpoint`. */
      servedEndpointHeaders?: readonly string[];
    }
  | { kind: 'shed'; reason: string; retryAfterSeconds: number; explain?: DecisionExplanation }
  | { kind: 'unavailable'; reason: string; explain?: DecisionExplanation };

export interface Scheduler {
  /** With no endpoint's metrics this fresh, the pool's failure mode applies, ms (default 2000). */
  readonly staleAfterMs?: number;
  /** The scheduling profiles a pool may name (its annotation is checked against them at apply). */
  profileNames?(): string[];
  /** When the pool counts as saturated (flow control's detector uses the same thresholds). */
  readonly saturation?: SaturationConfig;
  decide(pool: Pool, snapshot: PoolSnapshot, request: SchedulingRequest): Decision;
  /**
   * Optional: what a decision needs that takes I/O (a prompt's token ids from
   * the pool's pods). Undefined when nothing is to be waited for; else decide
   * once the promise settles (it never rejects).
   */
  prepare?(pool: Pool, snapshot: PoolSnapshot, request: SchedulingRequest): Promise<void> | undefined;
  /** The request was sent to this endpoint (in-flight +1, prefix index update). */
  dispatched(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void;
  /** The endpoint sent the first byte of the answer: its prefill is done (optional; pending prefill work −1). */
  firstToken?(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void;
  /** The request to this endpoint finished, however it ended (in-flight −1). */
  completed(pool: Pool, endpoint: Endpoint, request: SchedulingRequest): void;
  /**
   * Optional: this gateway's requests in flight to the endpoint, those not yet
   * visible in its metrics, and (unless `prefill` is false) the prompt tokens
   * whose prefill is not done yet.
   */
  inFlight?(pool: Pool, endpoint: Endpoint, prefill?: boolean): { total: number; unreflected: number; prefillTokens?: number };
  /**
   * Optional: how many of `endpoints` are ready, and this gateway's requests
   * in flight on those, without a pass over them (flow control's concurrency
   * detector asks on every request). The object returned may be reused by
   * the next call.
   */
  readyInFlight?(pool: Pool, endpoints: readonly Endpoint[]): Readonly<{ ready: number; inFlight: number }>;
}
