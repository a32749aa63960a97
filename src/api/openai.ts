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

const ChatBody = v.looseObject({
  ...Common,
  messages: v.pipe(v.array(Message, 'must be an array of messages'), v.minLength(1, 'must contain at least one message')),
});
const CompletionsBody = v.looseObject({
  ...Common,
  prompt: v.union([v.string(), v.array(v.string()), v.array(v.number()), v.array(v.array(v.number()))], 'must be a string, an array of strings or an array of token ids'),
});
const EmbeddingsBody = v.looseObject({
  ...Common,
  input: v.union([v.string(), v.array(v.string()), v.array(v.number()), v.array(v.array(v.number()))], 'must be a string, an array of strings or an array of token ids'),
});

const schemas = { chat: ChatBody, completions: CompletionsBody, embeddings: EmbeddingsBody };
const required: Record<ApiKind, string> = { chat: 'messages', completions: 'prompt', embeddings: 'input' };

export interface ParsedRequest {
  kind: ApiKind;
  body: Record<string, unknown>;
  model: string | undefined;
  stream: boolean;
}

export function checkBody(kind: ApiKind, body: Record<string, unknown>): ParsedRequest {
  const field = required[kind];
  if (body[field] === undefined) {
    throw badRequest(`Missing required field "${field}".`, 'missing_required_parameter', field);
  }
  const result = v.safeParse(schemas[kind], body);
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
  if (parsed.kind === 'chat') {
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
  if (typeof value === 'string') return value;
  if (Array.isArray(value) && typeof value[0] === 'string') return (value as string[]).join('\n');
  return JSON.stringify(value);
}
