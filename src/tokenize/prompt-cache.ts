/**
 * Token ids of recent prompts, found again by prompt prefix: a chat request's
 * messages are keyed as a chain (message k's key covers messages 0..k), so
 * the next turn of a conversation — the same messages plus an answer and a
 * question — finds its previous turn's tokens by its own earlier links; a
 * completion's prompt is found by text (an earlier prompt the new one starts
 * with). Bounded by entries and by tokens held, least recently used out first.
 */
import type { ChatMessage, SchedulingRequest } from '../scheduling/scheduler.ts';

export interface CachedTokens {
  tokens: Uint32Array;
  loraName: string | null;
}

interface Entry extends CachedTokens {
  key: string;
  /** A completion's text (to test `startsWith`); undefined for chat. */
  text?: string;
}

/** Chained keys of a chat request's messages: keys[k] stands for messages 0..k of this model. */
export function chatKeys(model: string, messages: readonly ChatMessage[]): string[] {
  const keys: string[] = [];
  let h1 = 0x811c9dc5 ^ model.length;
  let h2 = 0x5bd1e995;
  const mix = (s: string) => {
    for (let i = 0; i < s.length; i++) {
      const c = s.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = Math.imul(h2 ^ c, 0x5bd1e995) ^ (h2 >>> 13);
    }
  };
  mix(model);
  for (const m of messages) {
    mix('\u0000');
    mix(JSON.stringify(m));
    keys.push(`c:${(h1 >>> 0).toString(36)}${(h2 >>> 0).toString(36)}:${keys.length}`);
  }
  return keys;
}

const BUCKET_CHARS = 64;

export class PromptTokenCache {
  readonly #entries = new Map<string, Entry>();
  /** Completion entries by model and their first BUCKET_CHARS characters. */
  readonly #buckets = new Map<string, Set<Entry>>();
  #tokens = 0;

  constructor(
    readonly maxEntries = 4096,
    readonly maxTokens = 16_000_000,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The exact prompt's tokens, or those of the longest earlier prompt it extends (`partial`). */
  find(request: SchedulingRequest, keys?: string[]): { hit: CachedTokens; partial: boolean } | undefined {
    if (request.messages) {
      const k = keys ?? chatKeys(request.targetModel, request.messages);
      for (let i = k.length - 1; i >= 0; i--) {
        const e = this.#entries.get(k[i]!);
        if (e) return { hit: this.#touch(e), partial: i < k.length - 1 };
      }
      return undefined;
    }
    const text = request.prompt;
    const exact = this.#entries.get(textKey(request.targetModel, text));
    if (exact) return { hit: this.#touch(exact), partial: false };
    let best: Entry | undefined;
    // Earlier prompts as long as a bucket's key share it; shorter ones sit in the model's short bucket.
    for (const bucket of [this.#buckets.get(bucketKey(request.targetModel, text)), this.#buckets.get(bucketKey(request.targetModel, ''))]) {
      for (const e of bucket ?? []) {
        if (e.text!.length < text.length && (!best || e.text!.length > best.text!.length) && text.startsWith(e.text!)) best = e;
      }
    }
    return best ? { hit: this.#touch(best), partial: true } : undefined;
  }

  store(request: SchedulingRequest, value: CachedTokens, keys?: string[]): void {
    const chat = request.messages !== undefined;
    const key = chat ? (keys ?? chatKeys(request.targetModel, request.messages!)).at(-1)! : textKey(request.targetModel, request.prompt);
    const old = this.#entries.get(key);
    if (old) this.#drop(old);
    const e: Entry = { key, ...value, ...(chat ? {} : { text: request.prompt }) };
    this.#entries.set(key, e);
    this.#tokens += e.tokens.length;
    if (e.text !== undefined) {
      const b = bucketKey(request.targetModel, e.text);
      let set = this.#buckets.get(b);
      if (!set) this.#buckets.set(b, (set = new Set()));
      set.add(e);
    }
    for (const victim of this.#entries.values()) {
      if (this.#entries.size <= this.maxEntries && this.#tokens <= this.maxTokens) break;
      if (victim !== e) this.#drop(victim);
    }
  }

  #touch(e: Entry): Entry {
    this.#entries.delete(e.key);
    this.#entries.set(e.key, e);
    return e;
  }

  #drop(e: Entry): void {
    this.#entries.delete(e.key);
    this.#tokens -= e.tokens.length;
    if (e.text !== undefined) this.#buckets.get(bucketKey(e.key.slice(2, e.key.indexOf('\u0000')), e.text))?.delete(e);
  }
}

function textKey(model: string, text: string): string {
  return `t:${model}\u0000${text}`;
}

function bucketKey(model: string, text: string): string {
  return `${model}\u0000${text.length < BUCKET_CHARS ? '' : text.slice(0, BUCKET_CHARS)}`;
}
