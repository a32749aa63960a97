/**
 * What a request may cost, known before it is sent: its prompt's tokens
 * (estimated) plus the most it may write (`max_completion_tokens`, else
 * `max_tokens`, else the budget's default; times `n` choices). The estimate
 * is what is reserved; the answer's `usage` replaces it when the request ends.
 *
 * Prompt tokens are estimated without a tokenizer: token ids count one each,
 * text ~4 characters a token (English prose with the common BPE vocabularies;
 * the same figure the prefix-cache producers use). Chat adds a few tokens per
 * message for the chat template's role markers.
 */
import type { ParsedRequest } from '../api/openai.ts';

export const CHARS_PER_TOKEN = 4;
/** Role markers and separators a chat template adds per message (Llama 3's adds 4-5). */
const TOKENS_PER_MESSAGE = 4;

/** A positive integer field, else undefined (the model server answers a bad one with its own 400). */
function count(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isInteger(value) && value > 0 ? value : undefined;
}

const textTokens = (text: string) => Math.ceil(text.length / CHARS_PER_TOKEN);

function inputTokens(value: unknown): number {
  if (typeof value === 'string') return textTokens(value);
  if (!Array.isArray(value)) return 0;
  let n = 0;
  for (const item of value) n += typeof item === 'number' ? 1 : typeof item === 'string' ? textTokens(item) : Array.isArray(item) ? item.length : 0;
  return n;
}

export function estimatePromptTokens(parsed: Pick<ParsedRequest, 'kind' | 'body'>): number {
  const body = parsed.body;
  if (parsed.kind === 'chat') {
    let n = 0;
    for (const m of body.messages as { content?: unknown }[]) {
      n += TOKENS_PER_MESSAGE;
      const c = m.content;
      if (typeof c === 'string') n += textTokens(c);
      else if (Array.isArray(c)) for (const part of c as { text?: unknown }[]) if (typeof part?.text === 'string') n += textTokens(part.text);
    }
    return n;
  }
  return inputTokens(parsed.kind === 'completions' ? body.prompt : body.input);
}

/** The most the answer may write: embeddings none; else the request's limit (or `defaultMaxTokens`) per choice. */
export function maxOutputTokens(parsed: Pick<ParsedRequest, 'kind' | 'body'>, defaultMaxTokens: number): number {
  if (parsed.kind === 'embeddings') return 0;
  const body = parsed.body;
  const limit = (parsed.kind === 'chat' ? count(body.max_completion_tokens) : undefined) ?? count(body.max_tokens) ?? defaultMaxTokens;
  return limit * (count(body.n) ?? 1);
}
