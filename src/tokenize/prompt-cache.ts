/**
 * Token ids of recent prompts, found again by prompt prefix: a chat request's
 * messages are keyed as a chain (message k's key covers messages 0..k), so
 * the next turn of a conversation — the same messages plus an answer and a
 * question — finds its previous turn's tokens by its own earlier links; a
 * completion's prompt is found by text (the longest earlier prompt the new one
 * starts with, in one pass of a rolling hash over it; texts are not kept).
 * Bounded by entries and by tokens held, least recently used out first.
 */
import type { ChatMessage, SchedulingRequest } from '../scheduling/scheduler.ts';

export interface CachedTokens {
  tokens: Uint32Array;
  loraName: string | null;
}

interface Entry extends CachedTokens {
  key: string;
  /** A completion's text length (its key holds the text's rolling hash, not the text); undefined for chat. */
  textLength?: number;
}

/**
 * What keys a prompt's tokens besides its model and text: a chat request's
 * template fields (tools go into the system turn, kwargs switch parts of the
 * template) and the cache_salt — tokens do not depend on the salt, but vLLM
 * salts so that one tenant cannot learn from a cache hit's speed what another
 * sent, and a token-cache hit here (no wait for /tokenize) would tell the same.
 * Empty for a request with neither (its keys are as they always were).
 */
export function promptScope(request: Pick<SchedulingRequest, 'chatTemplate' | 'cacheSalt'>): string {
  if (request.chatTemplate === undefined && request.cacheSalt === undefined) return '';
  return JSON.stringify([request.chatTemplate ?? null, request.cacheSalt ?? null]);
}

/** Chained keys of a chat request's messages: keys[k] stands for messages 0..k of this model (and scope, see promptScope). */
export function chatKeys(model: string, messages: readonly ChatMessage[], scope = ''): string[] {
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
  if (scope) {
    mix('\u0001');
    mix(scope);
  }
  for (const m of messages) {
    mix('\u0000');
    mix(JSON.stringify(m));
    keys.push(`c:${(h1 >>> 0).toString(36)}${(h2 >>> 0).toString(36)}:${keys.length}`);
  }
  return keys;
}

export class PromptTokenCache {
  readonly #entries = new Map<string, Entry>();
  /** Lengths of the completion texts held, with how many entries have each. */
  readonly #lengthCount = new Map<number, number>();
  #tokens = 0;

  constructor(
    readonly maxEntries = 4096,
    /** 4 bytes a token: 4 M tokens is 16 MB. */
    readonly maxTokens = 4_000_000,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  /** The exact prompt's tokens, or those of the longest earlier prompt it extends (`partial`). */
  find(request: SchedulingRequest, keys?: string[]): { hit: CachedTokens; partial: boolean } | undefined {
    if (request.messages) {
      const k = keys ?? chatKeys(request.targetModel, request.messages, promptScope(request));
      for (let i = k.length - 1; i >= 0; i--) {
        const e = this.#entries.get(k[i]!);
        if (e) return { hit: this.#touch(e), partial: i < k.length - 1 };
      }
      return undefined;
    }
    // One pass over the text with a rolling hash, looking up the stored prompts' lengths as they go by:
    // O(text) whatever the number of cached prompts that share its start. Texts are known by their
    // length and two 32-bit hash lanes, not kept (a collision could only cost a wrong guess, never a
    // wrong answer: the engines' hashes of wrong tokens match nothing).
    const text = request.prompt;
    const model = completionScope(request);
    const lengths = this.#lengthCount;
    let best: Entry | undefined;
    let h1 = 0x811c9dc5;
    let h2 = 0x5bd1e995;
    for (let i = 0; i < text.length; i++) {
      const c = text.charCodeAt(i);
      h1 = Math.imul(h1 ^ c, 0x01000193);
      h2 = (Math.imul(h2, 31) + c) | 0;
      if (!lengths.has(i + 1)) continue;
      const e = this.#entries.get(completionKey(model, i + 1, h1, h2));
      if (!e) continue;
      if (i + 1 === text.length) return { hit: this.#touch(e), partial: false };
      best = e;
    }
    return best ? { hit: this.#touch(best), partial: true } : undefined;
  }

  store(request: SchedulingRequest, value: CachedTokens, keys?: string[]): void {
    const chat = request.messages !== undefined;
    const key = chat ? (keys ?? chatKeys(request.targetModel, request.messages!, promptScope(request))).at(-1)! : completionKey(completionScope(request), request.prompt.length, ...rolling(request.prompt));
    const old = this.#entries.get(key);
    if (old) this.#drop(old);
    const e: Entry = { key, ...value, ...(chat ? {} : { textLength: request.prompt.length }) };
    this.#entries.set(key, e);
    this.#tokens += e.tokens.length;
    if (e.textLength !== undefined) this.#lengthCount.set(e.textLength, (this.#lengthCount.get(e.textLength) ?? 0) + 1);
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
    if (this.#entries.get(e.key) !== e) return;
    this.#entries.delete(e.key);
    this.#tokens -= e.tokens.length;
    if (e.textLength === undefined) return;
    const n = (this.#lengthCount.get(e.textLength) ?? 1) - 1;
    if (n > 0) this.#lengthCount.set(e.textLength, n);
    else this.#lengthCount.delete(e.textLength);
  }
}

/** The two lanes of the rolling hash `find` computes, over a whole text. */
function rolling(text: string): [number, number] {
  let h1 = 0x811c9dc5;
  let h2 = 0x5bd1e995;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    h1 = Math.imul(h1 ^ c, 0x01000193);
    h2 = (Math.imul(h2, 31) + c) | 0;
  }
  return [h1, h2];
}

/** A completion's key prefix: its model, and its salt when it has one. */
function completionScope(request: SchedulingRequest): string {
  const scope = promptScope(request);
  return scope ? `${request.targetModel}\u0001${scope}` : request.targetModel;
}

function completionKey(model: string, length: number, h1: number, h2: number): string {
  return `t:${model}\u0000${length}:${h1 >>> 0}:${h2 >>> 0}`;
}
