/**
 * Token ids from a tokenizer.json the user provides, computed in the
 * gateway: Hugging Face's own JavaScript tokenizers (`@huggingface/tokenizers`,
 * the tokenizers of Transformers.js: the same models, normalizers,
 * pre-tokenizers and added tokens as the Rust library the engines load) and,
 * for chat, the model's chat template from its tokenizer_config.json (or the
 * request's own `chat_template`) rendered with `@huggingface/jinja` as vLLM
 * renders it (Transformers' apply_chat_template): `messages`, `tools`, the
 * generation prompt (unless the request continues its final message: then the
 * text stops at that message's end), the special tokens and the request's
 * `chat_template_kwargs` in the context, then tokenized without adding
 * special tokens (the template writes them);
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
import type { ChatMessage, ChatTemplateFields, SchedulingRequest } from '../scheduling/scheduler.ts';
import { chatKeys, promptScope, PromptTokenCache } from './prompt-cache.ts';

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
  /** Requests' own chat templates, compiled (a few: a client sends the same one each time). */
  readonly #requestTemplates = new Map<string, Template>();

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

  /** The text vLLM would tokenize for these messages (the chat template applied, with the request's template fields). */
  render(messages: readonly ChatMessage[], fields: ChatTemplateFields = {}): string {
    const template = fields.chat_template !== undefined ? this.#requestTemplate(fields.chat_template) : this.#template;
    if (!template) throw new Error('tokenizer_config.json has no chat_template: chat requests cannot be tokenized as the engine does');
    // vLLM's default content format for text: a list of text parts becomes their texts joined by newlines.
    const flat = messages.map((m) => ({ ...m, content: typeof m.content === 'string' ? m.content : Array.isArray(m.content) ? m.content.map((p) => (p && typeof p === 'object' && 'text' in p ? String(p.text) : '')).join('\n') : m.content ?? '' }));
    const continueFinal = fields.continue_final_message === true;
    const text = template.render({
      ...this.#context,
      ...fields.chat_template_kwargs,
      messages: flat,
      ...(fields.tools ? { tools: fields.tools } : {}),
      add_generation_prompt: fields.add_generation_prompt ?? !continueFinal,
    });
    return continueFinal ? endAtFinalMessage(text, flat.at(-1)?.content) : text;
  }

  #requestTemplate(source: string): Template {
    let t = this.#requestTemplates.get(source);
    if (!t) {
      if (this.#requestTemplates.size >= 8) this.#requestTemplates.delete(this.#requestTemplates.keys().next().value!);
      this.#requestTemplates.set(source, (t = new Template(source)));
    }
    return t;
  }

  tokenize(_pool: Pool, _endpoints: readonly Endpoint[], request: SchedulingRequest): TokenizeOutcome {
    const keys = request.messages ? chatKeys(request.targetModel, request.messages, promptScope(request)) : undefined;
    const loraName = this.#baseModels.size > 0 && !this.#baseModels.has(request.targetModel) ? request.targetModel : null;
    const found = this.cache.find(request, keys);
    if (found && !found.partial) return { ...found.hit, partial: false, source: 'tokenizer.json (cached)' };
    try {
      const ids = request.messages
        ? this.#tokenizer.encode(this.render(request.messages, request.chatTemplate), { add_special_tokens: false }).ids
        : this.#tokenizer.encode(request.prompt, { add_special_tokens: true }).ids;
      const value = { tokens: Uint32Array.from(ids), loraName };
      this.cache.store(request, value, keys);
      return { ...value, partial: false, source: 'tokenizer.json' } satisfies PromptTokens;
    } catch (err) {
      return { error: `tokenizer.json: ${(err as Error).message}` };
    }
  }
}

/**
 * `continue_final_message`: the rendered chat cut right after the final
 * message's text, so the model continues it (Transformers cuts at the last
 * occurrence of the stripped text, keeping its trailing spaces when the
 * template kept them).
 */
function endAtFinalMessage(text: string, content: unknown): string {
  if (typeof content !== 'string') throw new Error('continue_final_message: the final message has no text to continue');
  const at = text.lastIndexOf(content.trim());
  if (at < 0) throw new Error('continue_final_message: the final message does not appear in the rendered chat');
  const kept = content.trimStart().length;
  return text.slice(0, at + (text.slice(at, at + kept) === content ? kept : content.trim().length));
}
