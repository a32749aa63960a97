/**
 * Continuing a streamed answer on another pod when its pod dies mid-stream:
 * the request again, with the text already streamed as the start of the
 * answer — for chat, a final assistant message with vLLM's
 * `continue_final_message: true, add_generation_prompt: false`; for
 * completions, the prompt followed by that text — and the token limit less
 * what was already generated (for completions the default limit, 16, when
 * none was given). Only where that gives the client the answer it would have
 * had: one choice, plain text (no tools, no structured output, no echo of the
 * prompt, a string prompt); the relay also refuses answers that streamed
 * reasoning or tool calls (../proxy/sse-relay.ts).
 */
import type { ApiKind } from './openai.ts';

export interface Continuation {
  /** The body that continues an answer of which `text` (`generated` tokens) has reached the client. */
  body(text: string, generated: number): Uint8Array;
}

const encoder = new TextEncoder();

/** Fields whose presence makes a continued answer differ from an uninterrupted one. */
const CHAT_BLOCKERS = ['tools', 'functions', 'tool_choice', 'function_call', 'guided_json', 'guided_regex', 'guided_choice', 'guided_grammar', 'structured_outputs'];

export function continuationFor(kind: ApiKind, body: Readonly<Record<string, unknown>>, targetModel: string): Continuation | undefined {
  if (kind === 'embeddings' || body.stream !== true) return undefined;
  if (body.n !== undefined && body.n !== null && body.n !== 1) return undefined;
  if (body.best_of !== undefined && body.best_of !== null && body.best_of !== 1) return undefined;
  const format = body.response_format as { type?: unknown } | undefined | null;
  if (format && format.type !== 'text') return undefined;
  if (CHAT_BLOCKERS.some((k) => body[k] !== undefined && body[k] !== null)) return undefined;
  if (kind === 'completions' && (typeof body.prompt !== 'string' || body.echo === true || body.suffix !== undefined)) return undefined;
  return {
    body(text, generated) {
      const next: Record<string, unknown> = { ...body, model: targetModel };
      // Nothing reached the client yet: the same request again.
      if (text === '' && generated === 0) return encoder.encode(JSON.stringify(next));
      for (const limit of ['max_tokens', 'max_completion_tokens']) {
        const v = body[limit];
        if (typeof v === 'number') next[limit] = Math.max(1, v - generated);
      }
      if (kind === 'completions') {
        // Completions default max_tokens to 16 (OpenAI, vLLM's CompletionRequest): an absent limit is that one, not none.
        if (body.max_tokens === undefined) next.max_tokens = Math.max(1, 16 - generated);
        next.prompt = (body.prompt as string) + text;
      } else {
        const messages = body.messages as Array<{ role: string; content?: unknown }>;
        const last = messages[messages.length - 1];
        // A client that asked for a continuation itself: the text extends its final message.
        if (body.continue_final_message === true && last?.role === 'assistant' && typeof last.content === 'string') {
          next.messages = [...messages.slice(0, -1), { ...last, content: last.content + text }];
        } else {
          next.messages = [...messages, { role: 'assistant', content: text }];
        }
        next.continue_final_message = true;
        next.add_generation_prompt = false;
      }
      return encoder.encode(JSON.stringify(next));
    },
  };
}
