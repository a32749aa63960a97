/**
 * Token counts from the answers' OpenAI `usage`, read without holding the
 * answer back: from a whole JSON answer by finding its `"usage"` key from the
 * end (servers put it last) and parsing that object alone, and from a
 * streamed answer (SSE, with `stream_options.include_usage`) by scanning each
 * chunk's bytes as it passes for the line carrying `"prompt_tokens"` — only
 * the last such line is kept, and read once when the stream ends. The
 * gateway never adds `include_usage` itself: that would add a chunk the
 * client did not ask for.
 *
 * The counts are read straight from the bytes, and validated as they are
 * read: each must be a run of digits (a non-negative integer) or null, else
 * the answer counts as having no usage. Not a schema over parsed JSON: this
 * runs on every answer, and decoding and parsing the object cost more than
 * the rest of the accounting together.
 */
import type { ClientSignal } from '../http/inbound.ts';
import type { ObservedRequest, RequestObserver, TokenUsage } from './observer.ts';

const encoder = new TextEncoder();
const USAGE_KEY = encoder.encode('"usage"');
const PROMPT_TOKENS = encoder.encode('"prompt_tokens"');
const COMPLETION_TOKENS = encoder.encode('"completion_tokens"');
const CACHED_TOKENS = encoder.encode('"cached_tokens"');
/** A partial SSE line longer than this is not a usage line: it is dropped from the scan (not from the stream). */
const MAX_CARRY = 64 * 1024;
const NL = 0x0a;

/** `null` (absent), a count, or `invalid`. */
type Read = number | null | 'invalid';

/** The value of `"key":` within [from, end): a run of digits, `null`, or absent (null); anything else is invalid. */
function countAfter(bytes: Uint8Array, key: Uint8Array, from: number, end: number): Read {
  const at = indexOfBytes(bytes, key, from, end);
  if (at < 0) return null;
  let i = at + key.length;
  while (i < end && isSpace(bytes[i]!)) i++;
  if (bytes[i] !== 0x3a /* : */) return 'invalid';
  i++;
  while (i < end && isSpace(bytes[i]!)) i++;
  if (bytes[i] === 0x6e /* n */ && bytes[i + 1] === 0x75 && bytes[i + 2] === 0x6c && bytes[i + 3] === 0x6c) return null;
  let n = 0;
  let digits = 0;
  for (; i < end && bytes[i]! >= 0x30 && bytes[i]! <= 0x39; i++, digits++) n = n * 10 + (bytes[i]! - 0x30);
  // A count ends at a delimiter: a fraction, exponent or sign makes it not a count.
  const next = bytes[i];
  if (digits === 0 || digits > 15 || !(next === 0x2c || next === 0x7d || (next !== undefined && isSpace(next)))) return 'invalid';
  return n;
}

/** The counts of the usage object in [start, end) (its braces included). */
function readUsage(bytes: Uint8Array, start: number, end: number): TokenUsage | undefined {
  const input = countAfter(bytes, PROMPT_TOKENS, start, end);
  const output = countAfter(bytes, COMPLETION_TOKENS, start, end);
  const cached = countAfter(bytes, CACHED_TOKENS, start, end);
  if (typeof input !== 'number' || output === 'invalid' || cached === 'invalid') return undefined;
  const usage: TokenUsage = { input, output: output ?? 0 };
  if (cached !== null) usage.cached = cached;
  return usage;
}

/** The usage object after the `"usage"` key at `key`: its counts, or undefined when it is null, absent or malformed. */
function usageAt(bytes: Uint8Array, key: number): TokenUsage | undefined {
  let i = key + USAGE_KEY.length;
  while (i < bytes.length && isSpace(bytes[i]!)) i++;
  if (bytes[i] !== 0x3a /* : */) return undefined;
  i++;
  while (i < bytes.length && isSpace(bytes[i]!)) i++;
  if (bytes[i] !== 0x7b /* { */) return undefined;
  const end = objectEnd(bytes, i);
  return end < 0 ? undefined : readUsage(bytes, i, end);
}

/** The usage of a whole (non-streamed) JSON answer, or undefined when it has none or it is malformed. */
export function usageFromJson(bytes: Uint8Array): TokenUsage | undefined {
  let key = lastIndexOfBytes(bytes, USAGE_KEY, bytes.length);
  while (key >= 0 && !isKey(bytes, key)) key = lastIndexOfBytes(bytes, USAGE_KEY, key);
  return key < 0 ? undefined : usageAt(bytes, key);
}

/** Watches a streamed answer's bytes for its usage chunk. */
export class SseUsageTap {
  #carry: Uint8Array | undefined;
  #last: Uint8Array | undefined;
  /** Bytes seen. */
  bytes = 0;

  push(chunk: Uint8Array): void {
    this.bytes += chunk.byteLength;
    let buf = chunk;
    if (this.#carry) {
      buf = new Uint8Array(this.#carry.byteLength + chunk.byteLength);
      buf.set(this.#carry);
      buf.set(chunk, this.#carry.byteLength);
      this.#carry = undefined;
    }
    const end = buf.lastIndexOf(NL);
    if (end < 0) return this.#keep(buf);
    let at = indexOfBytes(buf, PROMPT_TOKENS, 0, end);
    if (at >= 0) {
      for (let next = at; next >= 0; next = indexOfBytes(buf, PROMPT_TOKENS, at + 1, end)) at = next;
      const start = at === 0 ? 0 : buf.lastIndexOf(NL, at) + 1;
      this.#last = buf.slice(start, buf.indexOf(NL, at));
    }
    if (end + 1 < buf.byteLength) this.#keep(buf.subarray(end + 1));
  }

  /** The last usage the stream carried (call when it has ended). */
  usage(): TokenUsage | undefined {
    let line = this.#last;
    if (this.#carry && indexOfBytes(this.#carry, PROMPT_TOKENS, 0, this.#carry.byteLength) >= 0) line = this.#carry;
    // An SSE data line (`data: {…}`), whose object has a `"usage"` key.
    if (!line || !startsWithData(line)) return undefined;
    const key = indexOfBytes(line, USAGE_KEY, 0, line.byteLength);
    return key >= 0 && isKey(line, key) ? usageAt(line, key) : undefined;
  }

  #keep(partial: Uint8Array): void {
    this.#carry = partial.byteLength > MAX_CARRY ? undefined : partial.slice();
  }
}

function startsWithData(line: Uint8Array): boolean {
  let i = 0;
  while (i < line.length && isSpace(line[i]!)) i++;
  return line[i] === 0x64 && line[i + 1] === 0x61 && line[i + 2] === 0x74 && line[i + 3] === 0x61 && line[i + 4] === 0x3a; // data:
}

/** `"usage"` at `at` is a key, not the end of a string value: the next non-space byte is a colon. */
function isKey(bytes: Uint8Array, at: number): boolean {
  let i = at + USAGE_KEY.length;
  while (i < bytes.length && isSpace(bytes[i]!)) i++;
  return bytes[i] === 0x3a;
}

function isSpace(b: number): boolean {
  return b === 0x20 || b === 0x0a || b === 0x0d || b === 0x09;
}

/** The index after the `}` that closes the object opening at `start`, skipping strings; -1 when it does not close. */
function objectEnd(bytes: Uint8Array, start: number): number {
  let depth = 0;
  let quoted = false;
  for (let i = start; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (quoted) {
      if (b === 0x5c) i++;
      else if (b === 0x22) quoted = false;
    } else if (b === 0x22) quoted = true;
    else if (b === 0x7b) depth++;
    else if (b === 0x7d && --depth === 0) return i + 1;
  }
  return -1;
}

export function indexOfBytes(hay: Uint8Array, needle: Uint8Array, from: number, end: number): number {
  const first = needle[0]!;
  const last = end - needle.length;
  for (let i = hay.indexOf(first, from); i >= 0 && i <= last; i = hay.indexOf(first, i + 1)) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

function lastIndexOfBytes(hay: Uint8Array, needle: Uint8Array, before: number): number {
  const first = needle[0]!;
  // A negative fromIndex would count from the end.
  if (before - needle.length < 0) return -1;
  for (let i = hay.lastIndexOf(first, before - needle.length); i >= 0; i = i > 0 ? hay.lastIndexOf(first, i - 1) : -1) {
    let j = 1;
    while (j < needle.length && hay[i + j] === needle[j]) j++;
    if (j === needle.length) return i;
  }
  return -1;
}

/** A streamed answer is over: its bytes and usage (from the tap that saw them) on the record, and the observers told, once. */
export function finishObserved(observed: ObservedRequest, observer: Required<Pick<RequestObserver, 'finished'>>, tap: SseUsageTap, failure?: 'broken' | 'aborted'): void {
  if (observed.done) return;
  observed.responseBytes = tap.bytes;
  observed.usage = tap.usage();
  if (failure) observed.failure = failure;
  observer.finished(observed);
}

/** The streamed answer as the client reads it, its bytes scanned for the usage chunk; `finished` when it ends, fails or is cancelled. */
export function observedStream(source: ReadableStream<Uint8Array>, observed: ObservedRequest, observer: Required<Pick<RequestObserver, 'finished'>>, client: ClientSignal): ReadableStream<Uint8Array> {
  const reader = source.getReader();
  const tap = new SseUsageTap();
  const finish = (failure?: 'broken' | 'aborted') => finishObserved(observed, observer, tap, failure);
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      let next: ReadableStreamReadResult<Uint8Array>;
      try {
        next = await reader.read();
      } catch (err) {
        finish(client.aborted ? 'aborted' : 'broken');
        controller.error(err);
        return;
      }
      if (next.done) {
        finish();
        controller.close();
        return;
      }
      tap.push(next.value);
      controller.enqueue(next.value);
    },
    cancel(reason) {
      finish('aborted');
      return reader.cancel(reason);
    },
  });
}
