/**
 * The ports the precise prefix-cache producer reads through: where a
 * request's token ids come from (the pool's own pods' `/tokenize`, or a local
 * tokenizer.json) and where the engines' block index is (kvevents'
 * KvIndexSource). Implementations live outside scheduling (src/tokenize/,
 * src/agent/, src/endpoints/) and are lent to createScheduler.
 */
import type { Endpoint } from '../endpoints/types.ts';
import type { KvIndexSource } from '../kvevents/index-view.ts';
import type { Pool } from '../routing/schema.ts';
import type { SchedulingRequest } from './scheduler.ts';

/** A request's token ids, as the pool's engines would compute them. */
export interface PromptTokens {
  /** Token ids of the whole prompt, or (`partial`) of its longest known earlier form. */
  tokens: ArrayLike<number>;
  /**
   * True when `tokens` are those of an earlier turn of this conversation (a
   * cached prefix of this prompt) because tokenizing the whole prompt is
   * still under way: every block a pod can hold from earlier turns is in them.
   */
  partial: boolean;
  /** The LoRA adapter the engines key the blocks with (vLLM's extra key), or null for the base model. */
  loraName: string | null;
  /** Where they came from, for the explanation (e.g. `pod 10.0.0.7:8000 /tokenize`, `cache`, `tokenizer.json`). */
  source: string;
}

export type TokenizeOutcome = PromptTokens | { error: string };

export interface PromptTokenizer {
  /**
   * The request's tokens: synchronously when known (cached), else a promise
   * that settles within the tokenizer's own time limit — never rejects, an
   * error is an outcome (the producer falls back to the approximate index).
   */
  tokenize(pool: Pool, endpoints: readonly Endpoint[], request: SchedulingRequest): TokenizeOutcome | Promise<TokenizeOutcome>;
}

/** Services a scheduler's plugins may need besides their parameters. */
export interface SchedulingServices {
  /** The engines' own block index (precise prefix-cache producer). */
  kvIndex?: KvIndexSource;
  /** Token ids for precise prefix matching. */
  tokenizer?: PromptTokenizer;
  /**
   * A harness that already knows the engines' block keys of a request (the
   * simulated-time benchmark, whose engines key blocks by its own hashes)
   * gives them here; tokenizing and hashing are then skipped.
   */
  blockHashes?: (request: SchedulingRequest) => BigUint64Array | undefined;
  /** A faster SHA-256 for block hashing than the portable one (Node: node:crypto's). */
  sha256?: (data: Uint8Array) => Uint8Array;
}
