/**
 * What the gateway needs from each OpenAI API body: the fields it checks, the
 * model, `stream`, and the text the prefix cache will see. Everything else in
 * the body is passed through untouched.
 */
import * as v from 'valibot';
import { badRequest } from './errors.ts';

export type ApiKind = 'chat' | 'completions' | 'embeddings';

/** The proxied OpenAI routes (POST), by path. */
export const API_ROUTES: Readonly<Record<string, ApiKind>> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
};

const ContentPart = v.looseObject({ type: v.string(), text: v.optional(v.string()) });
const Message = v.looseObject({
  role: v.string('must be a string'),
  content: v.optional(v.nullable(v.union([v.string(), v.array(ContentPart)], 'must be a string or an array of content parts'))),
});

const Common = {
  model: v.optional(v.string('must be a string')),
  stream: v.optional(v.nullable(v.boolean('must be true or false'))),
};

const Messages = v.pipe(v.array(Message, 'must be an array of messages'), v.minLength(1, 'must contain at least one message'));
const Input = v.union([v.string(), v.array(v.string()), v.array(v.number()), v.array(v.array(v.number()))], 'must be a string, an array of strings or an array of token ids');

const ChatBody = v.looseObject({ ...Common, messages: Messages });
const CompletionsBody = v.looseObject({ ...Common, prompt: Input });
const EmbeddingsBody = v.looseObject({ ...Common, input: Input });
// vLLM's other forms: completions from prompt embeddings (`--enable-prompt-embeds`: base64 tensors), and
// embeddings of a chat conversation (its EmbeddingChatRequest, a chat body's `messages`).
const PromptEmbedsBody = v.looseObject({ ...Common, prompt_embeds: v.union([v.string(), v.array(v.string())], 'must be a base64 string or an array of them') });

interface BodyForm {
  /** The field a body of this form must have. */
  field: string;
  schema: v.GenericSchema;
}

/** Per kind, the body's form, and the other form vLLM also takes, if any. */
const forms: Record<ApiKind, readonly [BodyForm, BodyForm?]> = {
  chat: [{ field: 'messages', schema: ChatBody }],
  completions: [{ field: 'prompt', schema: CompletionsBody }, { field: 'prompt_embeds', schema: PromptEmbedsBody }],
  embeddings: [{ field: 'input', schema: EmbeddingsBody }, { field: 'messages', schema: ChatBody }],
};

export interface ParsedRequest {
  kind: ApiKind;
  body: Record<string, unknown>;
  model: string | undefined;
  stream: boolean;
}

export function checkBody(kind: ApiKind, body: Record<string, unknown>): ParsedRequest {
  const [main, other] = forms[kind];
  const form = body[main.field] !== undefined ? main : other && body[other.field] !== undefined ? other : undefined;
  if (!form) {
    throw badRequest(`Missing required field "${main.field}"${other ? ` (or "${other.field}")` : ''}.`, 'missing_required_parameter', main.field);
  }
  const field = form.field;
  const result = v.safeParse(form.schema, body);
  if (!result.success) {
    const issue = result.issues[0];
    const path = (issue.path ?? []).map((p) => (typeof p.key === 'number' ? `[${p.key}]` : `.${String(p.key)}`)).join('').replace(/^\./, '');
    throw badRequest(`Invalid field "${path || field}": ${issue.message}.`, 'invalid_value', path || field);
  }
  return { kind, body, model: body.model as string | undefined, stream: body.stream === true };
}

/**
 * The text a model server's prefix cache would see, approximately: chat
 * messages as `role: content` lines in order, or the prompt itself.
 */
export function promptText(parsed: ParsedRequest): string {
  const body = parsed.body;
  // Chat, and vLLM's chat embeddings (messages instead of input).
  if (parsed.kind === 'chat' || (parsed.kind === 'embeddings' && body.input === undefined)) {
    let out = '';
    for (const m of body.messages as { role: string; content?: unknown }[]) {
      out += m.role;
      out += ': ';
      const c = m.content;
      if (typeof c === 'string') out += c;
      else if (Array.isArray(c)) for (const part of c as { text?: string }[]) if (typeof part.text === 'string') out += part.text;
      out += '\n';
    }
    return out;
  }
  const value = parsed.kind === 'completions' ? body.prompt : body.input;
  // No text to match prefixes on: a completion from prompt embeddings only.
  if (value === undefined) return '';
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return (value as string[]).join('\n');
  return JSON.stringify(value);
}
