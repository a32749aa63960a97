/**
 * The fields of an OpenAI request body that decide the engine's block hashes
 * beyond the prompt itself, read once where the request enters (the body is
 * passed through unchecked, so anything malformed is left out: the engine
 * answers it, and the prefix match falls back to the engine's defaults).
 */
import type { ChatTemplateFields, SchedulingRequest } from '../scheduling/scheduler.ts';

function isRecord(x: unknown): x is Record<string, unknown> {
  return typeof x === 'object' && x !== null && !Array.isArray(x);
}

/** The chat body fields vLLM renders its chat template with (ChatCompletionRequest names): chatTemplateFields reads them. */
const TEMPLATE_FIELDS = ['tools', 'chat_template', 'chat_template_kwargs', 'add_generation_prompt', 'continue_final_message'] as const;

function hasAny(body: Record<string, unknown>, keys: readonly string[]): boolean {
  for (const k of keys) if (body[k] !== undefined) return true;
  return false;
}

/** A chat body's template fields (vLLM's ChatCompletionRequest names), when it has any. */
export function chatTemplateFields(body: Record<string, unknown>): ChatTemplateFields | undefined {
  const out: ChatTemplateFields = {};
  if (Array.isArray(body.tools) && body.tools.length > 0) out.tools = body.tools;
  if (typeof body.chat_template === 'string') out.chat_template = body.chat_template;
  if (isRecord(body.chat_template_kwargs)) out.chat_template_kwargs = body.chat_template_kwargs;
  if (typeof body.add_generation_prompt === 'boolean') out.add_generation_prompt = body.add_generation_prompt;
  if (typeof body.continue_final_message === 'boolean') out.continue_final_message = body.continue_final_message;
  return Object.keys(out).length > 0 ? out : undefined;
}

/**
 * Put on `request` the fields of a chat or completions body that change its
 * block hashes: its template fields (chat) and its `cache_salt` (both; vLLM
 * rejects an empty one). Most bodies have none: then nothing is made or set.
 */
export function addHashingFields(request: Pick<SchedulingRequest, 'chatTemplate' | 'cacheSalt'>, kind: string, body: Record<string, unknown>): void {
  if (kind === 'chat' && hasAny(body, TEMPLATE_FIELDS)) {
    const t = chatTemplateFields(body);
    if (t) request.chatTemplate = t;
  }
  if (body.cache_salt !== undefined && (kind === 'chat' || kind === 'completions') && typeof body.cache_salt === 'string' && body.cache_salt !== '') request.cacheSalt = body.cache_salt;
}

/**
 * The template fields of a `/tokenize` chat request (vLLM's
 * TokenizeChatRequest takes the chat request's): what the request carries,
 * and a generation prompt unless it says otherwise — none when it continues
 * its final message (the two together are refused).
 */
export function tokenizeChatFields(t: ChatTemplateFields | undefined): ChatTemplateFields {
  const out: ChatTemplateFields = {};
  if (t?.tools) out.tools = t.tools;
  if (t?.chat_template !== undefined) out.chat_template = t.chat_template;
  if (t?.chat_template_kwargs) out.chat_template_kwargs = t.chat_template_kwargs;
  out.add_generation_prompt = t?.add_generation_prompt ?? t?.continue_final_message !== true;
  if (t?.continue_final_message !== undefined) out.continue_final_message = t.continue_final_message;
  return out;
}
