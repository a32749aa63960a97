/**
 * A streamed chat or completions answer (SSE) relayed event by event, so
 * that a pod dying mid-stream never leaves the client with a bare reset or
 * half an event:
 *   - only whole events are passed on (a cut-off event is never seen, not
 *     even when the pod closes the connection normally after it);
 *   - an answer is over at `[DONE]`, or once every choice seen has its
 *     `finish_reason`: a connection that breaks after that ends the stream
 *     (with `data: [DONE]` if the pod had not sent it), never continues it;
 *   - when the stream breaks before its end and the request can be continued
 *     (../api/continuation.ts; one choice, no tool calls, no reasoning
 *     streamed), the answer goes on from another pod: its events are given
 *     the first one's `id` and `created`, its opening role-only chunk is
 *     dropped, its usage counts the tokens streamed before the break as
 *     completion tokens — one answer to the client, no text lost or repeated;
 *   - otherwise (or when no pod can continue it) the stream ends with an
 *     OpenAI-shaped `error` event and `data: [DONE]`.
 *
 * It is the one stage between the pod's stream and the client's, so an SSE
 * answer costs one stream and one promise per chunk, not one per concern: it
 * also tells each attempt's end (`RelayedStream.end`), restores the client's
 * model name per event, hands the bytes it passes on to `onChunk` (the usage
 * tap) and says when the answer is over (`onEnd`). Whole events are passed
 * on as the pod's bytes, sliced, not decoded and encoded again, unless an
 * event must be rewritten (a continuation, a restored model name).
 */

import { concat as concatChunks } from '../http/inbound.ts';
import { restoreModelInEvent } from './model-rewrite.ts';

/** A stream of one attempt, and the endpoint it comes from. */
export interface RelayedStream {
  endpointId: string;
  stream: ReadableStream<Uint8Array>;
  /** This attempt's stream is over: read to its end, broken off (`broken`), or cancelled by the client (`aborted`). */
  end?: (failure?: 'broken' | 'aborted') => void;
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
  /** The client's model name, put back in each event in place of the one sent upstream. */
  restore?: { target: string; requested: string };
  /** Each piece of the answer as the client gets it. */
  onChunk?(bytes: Uint8Array): void;
  /** The answer is over, once: ended (with or without an error event), or cancelled by the client (`aborted`). */
  onEnd?(failure?: 'aborted'): void;
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();
const DONE_LINE = 'data: [DONE]';
const EVENT_END = /\r?\n\r?\n/;
const LF = 10;
const CR = 13;

/** The index just after the last blank line (the end of the last whole event) in `bytes`, or 0. */
function lastEventEnd(bytes: Uint8Array): number {
  for (let i = bytes.lastIndexOf(LF); i > 0; i = bytes.lastIndexOf(LF, i - 1)) {
    const prev = bytes[i - 1] === CR ? i - 2 : i - 1;
    if (prev >= 0 && bytes[prev] === LF) return i + 1;
  }
  return 0;
}

/** Held events are read once they pass this many bytes (so a long answer is not held whole). */
const UNREAD_LIMIT = 32 * 1024;
const DONE_END = /(?:^|\n)data: ?\[DONE\]\r?\n\r?\n$/;

/** Whether these whole events end with `data: [DONE]`. */
function endsWithDone(bytes: Uint8Array | undefined): boolean {
  return bytes !== undefined && DONE_END.test(decoder.decode(bytes.subarray(Math.max(0, bytes.byteLength - 20))));
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a);
  out.set(b, a.byteLength);
  return out;
}

interface AnswerState {
  id?: string;
  created?: number;
  /** Text of choice 0 streamed so far (delta.content, or text for completions). */
  text: string;
  /** Chunks with text or reasoning: tokens, as vLLM streams one a chunk. */
  generated: number;
  /** `data: [DONE]` was passed on. */
  done: boolean;
  /** Per choice index seen: whether it has its finish_reason (n > 1 streams interleave several). */
  choiceFinished: boolean[];
  /** Choices seen without a finish_reason yet. */
  open: number;
  /** A choice other than index 0 was seen. */
  severalChoices: boolean;
  toolCalls: boolean;
  /** Reasoning (vLLM's `reasoning_content`, or `reasoning`) reached the client. */
  reasoning: boolean;
}

/** The answer is over: `[DONE]`, or every choice seen has its finish_reason (only a usage chunk may follow). */
function answerFinished(state: AnswerState): boolean {
  return state.done || (state.choiceFinished.length > 0 && state.open === 0);
}

export function relaySse(first: RelayedStream, options: RelayOptions): ReadableStream<Uint8Array> {
  const state: AnswerState = { text: '', generated: 0, done: false, choiceFinished: [], open: 0, severalChoices: false, toolCalls: false, reasoning: false };
  const failed = new Set<string>();
  let current = first;
  let reader = first.stream.getReader();
  /** The start of an event not yet whole. */
  let carry: Uint8Array | undefined;
  let ended = false;
  const restore = options.restore;
  let resumes = 0;
  /** Tokens streamed before the current continuation began (its usage counts them). */
  let before = 0;
  let dropRoleChunk = false;
  /** Whether any event reached the client (else a continuation is simply the answer). */
  let shown = false;
  /** Whether events now come from a continuation that must be made part of the first answer. */
  let rewriting = false;

  /**
   * Whole events passed on but not yet read. Reading an event (decoding it, parsing its JSON) is needed only when the
   * stream breaks (to continue it) or ends without `[DONE]`; until then events are only held — up to UNREAD_LIMIT
   * bytes, then read in one go — so an answer that ends well is never parsed.
   */
  let unread: Uint8Array[] = [];
  let unreadBytes = 0;
  const readHeld = () => {
    if (unread.length === 0) return;
    const held = concatChunks(unread, unreadBytes);
    unread = [];
    unreadBytes = 0;
    for (const event of decoder.decode(held).split(EVENT_END)) if (event) observe(event);
  };

  /** The whole events that have arrived, as the client must see them. */
  const take = (chunk: Uint8Array): Uint8Array | undefined => {
    const all = carry ? concat(carry, chunk) : chunk;
    carry = undefined;
    const end = lastEventEnd(all);
    if (end < all.byteLength) carry = all.slice(end);
    if (end === 0) return undefined;
    const bytes = all.subarray(0, end);
    if (!rewriting && !restore) {
      // Passed on as the pod sent them, and read later if at all.
      unread.push(bytes);
      unreadBytes += bytes.byteLength;
      if (unreadBytes > UNREAD_LIMIT) readHeld();
      shown = true;
      return bytes;
    }
    // Whole events end in ASCII, so this decodes no character in halves.
    const events = decoder.decode(bytes).split(EVENT_END);
    if (events.at(-1) === '') events.pop();
    return pass(events, bytes);
  };

  /**
   * At the stream's end, what the pod left after its last blank line: passed on (its blank line added) only when
   * it is a whole event — its data `[DONE]` or JSON, as every event of these APIs is one `data:` line of JSON.
   * Anything else is an event cut off by a connection closed normally: dropped, as a broken one is.
   */
  const takeLast = (): Uint8Array | undefined => {
    const rest = carry;
    carry = undefined;
    if (!rest) return undefined;
    const event = decoder.decode(rest).replace(/\r?\n$/, '');
    const data = dataOf(event);
    if (data === undefined || (data !== '[DONE]' && parseObject(data) === undefined)) return undefined;
    return pass([event], undefined);
  };

  /** Events read, rewritten where they must be; `bytes` (their bytes as the pod sent them) when none changed. */
  const pass = (events: string[], bytes: Uint8Array | undefined): Uint8Array | undefined => {
    readHeld();
    let changed = false;
    let out = '';
    for (const event of events) {
      let shownEvent = rewriting ? rewrite(event) : (observe(event), event);
      if (shownEvent !== undefined && restore) shownEvent = restoreModelInEvent(shownEvent, restore.target, restore.requested);
      if (shownEvent !== event) changed = true;
      if (shownEvent === undefined) continue;
      out += `${shownEvent}\n\n`;
      shown = true;
    }
    return changed || bytes === undefined ? (out ? encoder.encode(out) : undefined) : bytes;
  };

  const emit = (controller: ReadableStreamDefaultController<Uint8Array>, bytes: Uint8Array) => {
    options.onChunk?.(bytes);
    controller.enqueue(bytes);
  };
  const finish = (controller: ReadableStreamDefaultController<Uint8Array>) => {
    controller.close();
    if (ended) return;
    ended = true;
    options.onEnd?.();
  };

  /** Learn from an event: the answer's id, its text, which choices ended. */
  function observe(event: string, parsed?: Record<string, unknown>): void {
    const data = dataOf(event);
    if (data === undefined) return;
    if (data === '[DONE]') {
      state.done = true;
      return;
    }
    const obj = parsed ?? parseObject(data);
    if (!obj) return;
    if (state.id === undefined && typeof obj.id === 'string') state.id = obj.id;
    if (state.created === undefined && typeof obj.created === 'number') state.created = obj.created;
    const choices = obj.choices;
    if (!Array.isArray(choices)) return;
    for (let i = 0; i < choices.length; i++) {
      const choice = choices[i] as Record<string, unknown> | null;
      if (!choice || typeof choice !== 'object') continue;
      const index = Number.isInteger(choice.index) && (choice.index as number) >= 0 ? (choice.index as number) : i;
      if (index !== 0) state.severalChoices = true;
      if (state.choiceFinished[index] === undefined) {
        state.choiceFinished[index] = false;
        state.open++;
      }
      const delta = choice.delta as Record<string, unknown> | undefined;
      const piece = typeof choice.text === 'string' ? choice.text : typeof delta?.content === 'string' ? delta.content : '';
      const thought = delta?.reasoning_content || delta?.reasoning;
      if (piece || thought) state.generated++;
      if (piece && index === 0) state.text += piece;
      if (thought) state.reasoning = true;
      if (delta?.tool_calls) state.toolCalls = true;
      if (choice.finish_reason !== null && choice.finish_reason !== undefined && !state.choiceFinished[index]) {
        state.choiceFinished[index] = true;
        state.open--;
      }
    }
  }

  /** Why this answer cannot be continued on another pod, or undefined when it can. */
  function notContinuable(): string | undefined {
    if (state.severalChoices) return 'an answer with several choices cannot be continued on another pod';
    if (state.toolCalls) return 'an answer with tool calls cannot be continued on another pod';
    // The continuation would have to put the reasoning back into the prompt in the model's own raw form
    // (`<think>…`): chat templates drop or re-render it in assistant turns, and the next pod's reasoning parser
    // would split the rest differently, so the client could get reasoning as content or the reasoning again.
    if (state.reasoning) return 'an answer whose reasoning has been streamed cannot be continued faithfully on another pod';
    if (!options.continuation) return 'this request cannot be continued on another pod (it has tools, several choices, structured output or a prompt that is not one string)';
    if (resumes >= options.maxResumes) return 'this answer was already continued as often as it may be';
    return undefined;
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
      try {
        await next(controller);
      } catch (err) {
        // A failure of the relay itself (not of a pod): the answer is over.
        if (!ended) {
          ended = true;
          options.onEnd?.();
        }
        throw err;
      }
    },
    cancel(reason) {
      current.end?.('aborted');
      if (!ended) {
        ended = true;
        options.onEnd?.('aborted');
      }
      return reader.cancel(reason);
    },
  });

  /** Pass on the next whole events, or end the answer. */
  async function next(controller: ReadableStreamDefaultController<Uint8Array>): Promise<void> {
    for (;;) {
      let broke: string;
      try {
        const { done, value } = await reader.read();
        if (!done) {
          const out = take(value);
          if (out) {
            emit(controller, out);
            return;
          }
          continue;
        }
        current.end?.();
        const rest = carry ? takeLast() : undefined;
        if (rest) emit(controller, rest);
        // Over when the last event is `[DONE]`, or when the events held say the answer finished.
        if (endsWithDone(unread.at(-1)) || (readHeld(), answerFinished(state))) {
          finish(controller);
          return;
        }
        broke = `the stream from ${current.endpointId} ended before the answer did`;
      } catch (err) {
        current.end?.('broken');
        broke = `${current.endpointId} broke off the stream (${(err as Error).message})`;
        carry = undefined; // a cut-off event is dropped, never shown
        readHeld();
        // A finished answer is over: what was lost can only be the usage chunk. Nothing is added to it.
        if (answerFinished(state)) {
          if (!state.done) emit(controller, encoder.encode(`${DONE_LINE}\n\n`));
          finish(controller);
          return;
        }
      }
      readHeld();
      failed.add(current.endpointId);
      const why = notContinuable();
      if (why) {
        options.onResumed?.(false, 'not resumable');
        emit(controller, encoder.encode(errorEvent(`${broke} after ${state.generated} tokens; ${why}. Retry the request.`)));
        finish(controller);
        return;
      }
      const resumed = await options.resume(options.continuation!(state.text, state.generated), failed);
      if ('error' in resumed) {
        options.onResumed?.(false, resumed.error);
        emit(controller, encoder.encode(errorEvent(`${broke} after ${state.generated} tokens, and no other pod could continue it: ${resumed.error}. Retry the request.`)));
        finish(controller);
        return;
      }
      options.onResumed?.(true, 'resumed');
      resumes++;
      before = state.generated;
      rewriting = shown;
      dropRoleChunk = shown;
      current = resumed;
      reader = resumed.stream.getReader();
    }
  }
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
