/**
 * A streamed answer (SSE) relayed event by event, so that a pod dying
 * mid-stream never leaves the client with a bare reset or half an event:
 *   - only whole events are passed on (a cut-off event is never seen);
 *   - when the stream breaks before its end (no `finish_reason`, no
 *     `[DONE]`) and the request can be continued (../api/continuation.ts),
 *     the answer goes on from another pod: its events are given the first
 *     one's `id` and `created`, its opening role-only chunk is dropped, its
 *     usage counts the tokens streamed before the break as completion
 *     tokens — one answer to the client, no text lost or repeated;
 *   - otherwise (or when no pod can continue it) the stream ends with an
 *     OpenAI-shaped `error` event and `data: [DONE]`.
 */

/** A stream of one attempt, and the endpoint it comes from. */
export interface RelayedStream {
  endpointId: string;
  stream: ReadableStream<Uint8Array>;
}

export interface RelayOptions {
  /** Builds the continuation request body; undefined: the request cannot be continued. */
  continuation?: (text: string, generated: number) => Uint8Array;
  /** Send the continuation to another endpoint than those given; an error says why none could take it. */
  resume(body: Uint8Array, failed: ReadonlySet<string>): Promise<RelayedStream | { error: string }>;
  /** Continuations tried per answer. */
  maxResumes: number;
  /** Told of each resumption and of each stream ended with an error event. */
  onResumed?(ok: boolean, reason: string): void;
}

const encoder = new TextEncoder();
const DONE_LINE = 'data: [DONE]';
const EVENT_END = /\r?\n\r?\n/;

interface AnswerState {
  id?: string;
  created?: number;
  /** Text streamed so far (delta.content, or text for completions). */
  text: string;
  /** Chunks with text: tokens, as vLLM streams one a chunk. */
  generated: number;
  finished: boolean;
  toolCalls: boolean;
}

export function relaySse(first: RelayedStream, options: RelayOptions): ReadableStream<Uint8Array> {
  const decoder = new TextDecoder();
  const state: AnswerState = { text: '', generated: 0, finished: false, toolCalls: false };
  const failed = new Set<string>();
  let current = first;
  let reader = first.stream.getReader();
  let buffer = '';
  let resumes = 0;
  /** Tokens streamed before the current continuation began (its usage counts them). */
  let before = 0;
  let dropRoleChunk = false;
  /** Whether any event reached the client (else a continuation is simply the answer). */
  let shown = false;
  /** Whether events now come from a continuation that must be made part of the first answer. */
  let rewriting = false;

  /** Whole events of the buffer, as the client must see them. */
  const take = (flush: boolean): string => {
    const parts = buffer.split(EVENT_END);
    buffer = flush ? '' : parts.pop()!;
    let out = '';
    for (const event of flush ? parts.filter((p) => p !== '') : parts) {
      const rewritten = rewriting ? rewrite(event) : (observe(event), event);
      if (rewritten !== undefined) {
        out += `${rewritten}\n\n`;
        shown = true;
      }
    }
    return out;
  };

  /** Learn from an event: the answer's id, its text, whether it ended. */
  function observe(event: string, parsed?: Record<string, unknown>): void {
    const data = dataOf(event);
    if (data === undefined) return;
    if (data === '[DONE]') {
      state.finished = true;
      return;
    }
    const obj = parsed ?? parseObject(data);
    if (!obj) return;
    if (state.id === undefined && typeof obj.id === 'string') state.id = obj.id;
    if (state.created === undefined && typeof obj.created === 'number') state.created = obj.created;
    const choice = (obj.choices as Array<Record<string, unknown>> | undefined)?.[0];
    if (!choice) return;
    const delta = choice.delta as Record<string, unknown> | undefined;
    const piece = typeof choice.text === 'string' ? choice.text : typeof delta?.content === 'string' ? delta.content : '';
    if (piece) {
      state.text += piece;
      state.generated++;
    }
    if (delta?.tool_calls) state.toolCalls = true;
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) state.finished = true;
  }

  /** An event of a continuation, made part of the first answer (undefined: dropped). */
  function rewrite(event: string): string | undefined {
    const data = dataOf(event);
    if (data === undefined || data === '[DONE]') {
      observe(event);
      return event;
    }
    const obj = parseObject(data);
    if (!obj) return event;
    const choice = (obj.choices as Array<Record<string, unknown>> | undefined)?.[0];
    const delta = choice?.delta as Record<string, unknown> | undefined;
    if (dropRoleChunk && delta && delta.role !== undefined && !delta.content && !choice?.finish_reason) {
      dropRoleChunk = false;
      return undefined;
    }
    dropRoleChunk = false;
    observe(event, obj);
    if (state.id !== undefined) obj.id = state.id;
    if (state.created !== undefined) obj.created = state.created;
    const usage = obj.usage as Record<string, number> | null | undefined;
    if (usage && typeof usage.completion_tokens === 'number' && typeof usage.prompt_tokens === 'number') {
      usage.completion_tokens += before;
      usage.prompt_tokens = Math.max(0, usage.prompt_tokens - before);
    }
    return `data: ${JSON.stringify(obj)}`;
  }

  const errorEvent = (message: string) =>
    `data: ${JSON.stringify({ error: { message, type: 'upstream_error', param: null, code: 'upstream_reset' } })}\n\n${DONE_LINE}\n\n`;

  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let broke: string;
        try {
          const { done, value } = await reader.read();
          if (!done) {
            buffer += decoder.decode(value, { stream: true });
            const out = take(false);
            if (out) {
              controller.enqueue(encoder.encode(out));
              return;
            }
            continue;
          }
          const rest = take(true);
          if (rest) controller.enqueue(encoder.encode(rest));
          if (state.finished) {
            controller.close();
            return;
          }
          broke = `the stream from ${current.endpointId} ended before the answer did`;
        } catch (err) {
          broke = `${current.endpointId} broke off the stream (${(err as Error).message})`;
          buffer = ''; // a cut-off event is dropped, never shown
        }
        failed.add(current.endpointId);
        const canResume = options.continuation && !state.toolCalls && resumes < options.maxResumes;
        if (!canResume) {
          options.onResumed?.(false, 'not resumable');
          controller.enqueue(encoder.encode(errorEvent(`${broke} after ${state.generated} tokens; this request cannot be continued on another pod (it has tools, several choices or structured output, or was continued too often). Retry it.`)));
          controller.close();
          return;
        }
        const next = await options.resume(options.continuation!(state.text, state.generated), failed);
        if ('error' in next) {
          options.onResumed?.(false, next.error);
          controller.enqueue(encoder.encode(errorEvent(`${broke} after ${state.generated} tokens, and no other pod could continue it: ${next.error}. Retry the request.`)));
          controller.close();
          return;
        }
        options.onResumed?.(true, 'resumed');
        resumes++;
        before = state.generated;
        rewriting = shown;
        dropRoleChunk = shown;
        current = next;
        reader = next.stream.getReader();
      }
    },
    cancel(reason) {
      return reader.cancel(reason);
    },
  });
}

function dataOf(event: string): string | undefined {
  let data: string | undefined;
  for (const line of event.split(/\r?\n/)) {
    if (!line.startsWith('data:')) continue;
    const value = line.slice(line.charCodeAt(5) === 32 ? 6 : 5);
    data = data === undefined ? value : `${data}\n${value}`;
  }
  return data;
}

function parseObject(data: string): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(data);
    return v && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // not JSON: passed on as it came
  }
}
