/**
 * What the gateway reads of a client request. The web-standard version wraps
 * a `Request`; a runtime may supply a cheaper one over its native request
 * (Node: no web Request, ReadableStream or Headers built per request).
 */

export interface InboundHeaders {
  /** Lower-case name → value, or null. */
  get(name: string): string | null;
  forEach(callback: (value: string, name: string) => void): void;
}

/**
 * What the gateway and the upstream clients need of an abort signal. A web
 * `AbortSignal` has it; a runtime's hot path may pass something cheaper (the
 * Node server's one-shot signal costs ~0.1 µs per request where an
 * AbortController with one listener added and removed costs ~8 µs on Node 20).
 */
export interface ClientSignal {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

export interface InboundRequest {
  /** The request method; unset means POST (the runtimes' fast paths serve the POST routes of the OpenAI API only). */
  method?: string;
  headers: InboundHeaders;
  /** Aborts when the client goes away before the answer is complete. */
  signal: ClientSignal;
  /** The query string, `''` or `?…`, passed upstream as is. */
  search: string;
  /** The client's address as the gateway's socket sees it (appended to X-Forwarded-For), when the runtime knows it. */
  remoteAddress?: string;
  /**
   * The request's in-flight key (SchedulingRequest.key), when the runtime must know it before the director does
   * (Workers ties the reports to a pool's object to the request's context by it); else the director makes one.
   */
  key?: string;
  /** The whole body, at most `limit` bytes, else it rejects with an error whose `code` is BODY_TOO_LARGE. Read once. */
  body(limit: number): Promise<Uint8Array>;
}

/** The `code` of the error `body(limit)` rejects with when the body is over the limit (any runtime's reader). */
export const BODY_TOO_LARGE = 'body_too_large';

export class BodyTooLargeError extends Error {
  readonly code = BODY_TOO_LARGE;
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`);
  }
}

/** Whether `body(limit)` refused the body as too large. */
export function isBodyTooLarge(err: unknown): boolean {
  return typeof err === 'object' && err !== null && (err as { code?: unknown }).code === BODY_TOO_LARGE;
}

export function inboundFromRequest(request: Request, remoteAddress?: string): InboundRequest {
  const q = request.url.indexOf('?');
  return {
    method: request.method,
    headers: request.headers,
    signal: request.signal,
    search: q >= 0 ? request.url.slice(q) : '',
    body: (limit) => readLimited(request, limit),
    ...(remoteAddress ? { remoteAddress } : {}),
  };
}

/**
 * A body refused as too large is still read and dropped, up to this much, so
 * the client can finish sending, read the 413 and keep its connection; past
 * it the body is cancelled (the connection then closes).
 */
const DISCARD_LIMIT = 64 * 1024 * 1024;

async function readLimited(request: Request, limit: number): Promise<Uint8Array> {
  const declared = request.headers.get('content-length');
  if (declared !== null && Number(declared) > limit) {
    if (request.body) await discard(request.body.getReader(), Number(declared) <= DISCARD_LIMIT ? DISCARD_LIMIT : 0);
    throw new BodyTooLargeError(limit);
  }
  if (!request.body) return new Uint8Array(0);
  if (declared !== null) return new Uint8Array(await request.arrayBuffer());
  return readUpTo(request.body.getReader(), limit, (reader, size) => discard(reader, DISCARD_LIMIT - size));
}

/**
 * A body read whole, at most `limit` bytes; past that `tooLarge` deals with
 * the rest of it (drain or cancel) and BodyTooLargeError is thrown.
 */
export async function readUpTo(
  reader: ReadableStreamDefaultReader<Uint8Array>,
  limit: number,
  tooLarge: (reader: ReadableStreamDefaultReader<Uint8Array>, size: number) => Promise<void> | void,
): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > limit) {
      await tooLarge(reader, size);
      throw new BodyTooLargeError(limit);
    }
    chunks.push(value);
  }
  return concat(chunks, size);
}

/** Read and drop up to `budget` more bytes; cancel the body past that. */
async function discard(reader: ReadableStreamDefaultReader<Uint8Array>, budget: number): Promise<void> {
  try {
    while (budget > 0) {
      const { done, value } = await reader.read();
      if (done) return;
      budget -= value.byteLength;
    }
    await reader.cancel();
  } catch {
    // The client stopped sending or went away: there is nothing left to drop.
  }
}

export function concat(chunks: Uint8Array[], size: number): Uint8Array {
  if (chunks.length === 1) return chunks[0]!;
  const out = new Uint8Array(size);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}
