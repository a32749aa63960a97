/**
 * Token ids from a tokenizer.json the user provides, computed in the
 * gateway: Hugging Face's own JavaScript tokenizers (`@huggingface/tokenizers`,
 * the tokenizers of Transformers.js: the same models, normalizers,
 * pre-tokenizers and added tokens as the Rust library the engines load) and,
 * for chat, the model's chat template from its tokenizer_config.json rendered
 * with `@huggingface/jinja` as vLLM renders it: `messages`,
 * `add_generation_prompt: true` and the special tokens in the context, then
 * tokenized without adding special tokens (the template writes them);
 * completions are tokenized with them (vLLM's `add_special_tokens` defaults).
 * A library beats hand-written code here: BPE merges, byte fallback,
 * normalizers and Jinja are each a project of their own.
 *
 * No pod is asked, so nothing waits on the network; the cost is the
 * encoding, cached per prompt like the pods' answers (prompt-cache.ts).
 */
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import * as v from 'valibot';
import type { Endpoint } from '../endpoints/types.ts';
import type { Pool } from '../routing/schema.ts';
import type { PromptTokenizer, PromptTokens, TokenizeOutcome } from '../scheduling/prompt-tokens.ts';
import type { ChatMessage, SchedulingRequest } from '../scheduling/scheduler.ts';
import { chatKeys, PromptTokenCache } from './prompt-cache.ts';

/** A special token as tokenizer_config.json writes it: a string or an AddedToken object. */
const SpecialToken = v.union([v.string(), v.looseObject({ content: v.string() })]);
const TokenizerConfig = v.looseObject({
  chat_template: v.optional(v.union([v.string(), v.array(v.looseObject({ name: v.string(), template: v.string() }))])),
  bos_token: v.optional(v.nullable(SpecialToken)),
  eos_token: v.optional(v.nullable(SpecialToken)),
  unk_token: v.optional(v.nullable(SpecialToken)),
  pad_token: v.optional(v.nullable(SpecialToken)),
});
const TokenizerJson = v.looseObject({ model: v.looseObject({ type: v.optional(v.string()) }) }, 'must be a tokenizer.json (an object with a "model")');

export interface LocalTokenizerOptions {
  /** tokenizer.json, parsed. */
  tokenizerJson: unknown;
  /** tokenizer_config.json, parsed (the chat template and special tokens). */
  tokenizerConfig: unknown;
  /** Model names served as the base model: any other target model is a LoRA adapter (its blocks keyed by its name). Empty: every name is a base model. */
  baseModels?: readonly string[];
  cache?: PromptTokenCache;
}

export class LocalTokenizer implements PromptTokenizer {
  readonly cache: PromptTokenCache;
  readonly #tokenizer: Tokenizer;
  readonly #template: Template | undefined;
  readonly #context: Record<string, string>;
  readonly #baseModels: ReadonlySet<string>;

  constructor(options: LocalTokenizerOptions) {
    const json = v.parse(TokenizerJson, options.tokenizerJson);
    const config = v.safeParse(TokenizerConfig, options.tokenizerConfig);
    if (!config.success) throw new Error(`tokenizer_config.json: ${config.issues[0].message} (at ${config.issues[0].path?.map((p) => p.key).join('.') ?? 'top'})`);
    this.#tokenizer = new Tokenizer(json, config.output);
    const chat = config.output.chat_template;
    const template = typeof chat === 'string' ? chat : chat?.find((t) => t.name === 'default')?.template ?? chat?.[0]?.template;
    this.#template = template ? new Template(template) : undefined;
    this.#context = {};
    for (const name of ['bos_token', 'eos_token', 'unk_token', 'pad_token'] as const) {
      const t = config.output[name];
      if (t) this.#context[name] = typeof t === 'string' ? t : t.content;
    }
    this.#baseModels = new Set(options.baseModels ?? []);
    this.cache = options.cache ?? new PromptTokenCache();
  }

  /** The text vLLM would tokenize for these messages (the chat template applied). */
  render(messages: readonly ChatMessage[]): string {
    if (!this.#template) throw new Error('tokenizer_config.json has no chat_template: chat requests cannot be tokenized as the engine does');
    // vLLM's default content format for text: a list of text parts becomes their texts joined by newlines.
    const flat = messages.map((m) => ({ ...m, content: typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((p) => (p && typeof p === 'object' && 'text' in p ? String(p.text) : '')).join('\n') : m.content ?? '' }));
    return this.#template.render({ messages: flat, add_generation_prompt: true, ...this.#context });
  }

  tokenize(_pool: Pool, _endpoints: readonly Endpoint[], request: SchedulingRequest): TokenizeOutcome {
    const keys = request.messages ? chatKeys(request.targetModel, request.messages) : undefined;
    const loraName = this.#baseModels.size > 0 && !this.#baseModels.has(request.targetModel) ? request.targetModel : null;
    const found = this.cache.find(request, keys);
    if (found && !found.partial) return { ...found.hit, partial: false, source: 'tokenizer.json (cached)' };
    try {
      const ids = request.messages
        ? this.#tokenizer.encode(this.render(request.messages), { add_special_tokens: false }).ids
        : this.#tokenizer.encode(request.prompt, { add_special_tokens: true }).ids;
      const value = { tokens: Uint32Array.from(ids), loraName };
      this.cache.store(request, value, keys);
      return { ...value, partial: false, source: 'tokenizer.json' } satisfies PromptTokens;
    } catch (err) {
      return { error: `tokenizer.json: ${(err as Error).message}` };
    }
  }
}
