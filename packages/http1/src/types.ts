/**
 * The package's contract with its user: what the server hands a handler and
 * expects back, and what the client takes and returns. Plain shapes, so an
 * application can pass its own equivalents (infergate's src/http/ types are
 * structurally these) without this package knowing them.
 */

/** Request or response headers: lower-case name → value. */
export interface HeaderView {
  get(name: string): string | null;
  forEach(callback: (value: string, name: string) => void): void;
}

/** The part of an AbortSignal the server and client use. */
export interface AbortSignalLike {
  readonly aborted: boolean;
  addEventListener(type: 'abort', listener: () => void, options?: { once?: boolean }): void;
  removeEventListener(type: 'abort', listener: () => void): void;
}

/** One request the server parsed, for its handler. */
export interface ServerRequest {
  headers: HeaderView;
  /** Aborts when the client goes away before the answer is complete. */
  signal: AbortSignalLike;
  /** The query string, `''` or `?…`. */
  search: string;
  /** The client's address (the socket's remote address). */
  remoteAddress?: string;
  /** The whole body, at most `limit` bytes (else rejects with BodyTooLargeError). Read once. */
  body(limit: number): Promise<Uint8Array>;
}

/**
 * What a handler answers. Status 499 (nginx's "client closed request") means
 * the handler gave up because the client went away: the connection is closed
 * without an answer.
 */
export interface ServerAnswer {
  status: number;
  /** Lower-case names. */
  headers: Record<string, string>;
  body: Uint8Array | string | ReadableStream<Uint8Array> | null;
}

/** `body(limit)` rejects with this when the body is (or is declared) larger than the limit. */
export class BodyTooLargeError extends Error {
  readonly code = 'body_too_large';
  constructor(readonly limit: number) {
    super(`the request body is larger than ${limit} bytes`);
  }
}

/** A request for the client to send. */
export interface ClientRequest {
  /** `http://host:port` */
  origin: string;
  method: string;
  /** Path and query. */
  path: string;
  headers: Record<string, string>;
  /** The Host header to send instead of the origin's `host:port` (a gateway forwarding its client's Host). */
  host?: string;
  body: Uint8Array;
  /** Aborts the exchange (the caller's client went away). */
  signal: AbortSignalLike;
  /** Give up if the response head has not arrived by then, ms. */
  headersTimeoutMs: number;
  /**
   * Fail the body (ClientBodyError `idle`) when no byte of it arrives for
   * this long, ms; default: the client's `bodyIdleTimeoutMs`.
   */
  bodyIdleTimeoutMs?: number;
}

export interface ClientBody {
  /** The whole body. */
  bytes(): Promise<Uint8Array>;
  /** The body as it arrives; `onEnd` runs once however it ends, `onFirst` at its first chunk. */
  stream(onEnd: () => void, onFirst?: () => void): ReadableStream<Uint8Array>;
  /** Drop the body unread. */
  cancel(): void;
}

export interface ClientResponse {
  status: number;
  headers: HeaderView;
  body: ClientBody | null;
}

/**
 * Why a request got no response (no valid head):
 * - `connect`: **no byte of the request was written** — the connection was
 *   refused, failed before it was established, or was not established within
 *   the client's connect timeout. The server cannot have seen
 *   the request: it is safe to send it elsewhere, whatever its method.
 * - `broken`: the request was written (all or part of it), and the connection
 *   then closed or reset before a head arrived, or the answer's head was not
 *   valid HTTP/1.x (a malformed status line or header, a header value with
 *   control characters that could not be passed on). The server may have
 *   received and acted on the request: a POST must not be sent again (nginx
 *   and node:http's agent never do); answer 502.
 * - `timeout`: no head within `headersTimeoutMs` (the request was written,
 *   unless the connection was never established: then `written` is false).
 * - `aborted`: the caller's signal.
 * - `invalid`: the request cannot be written (a bad method, path or header);
 *   nothing was sent.
 *
 * `written` says the same for every kind: whether any byte may have reached
 * the server. The client itself never sends a request twice.
 */
export type ClientFailure = 'connect' | 'broken' | 'timeout' | 'aborted' | 'invalid';

export class ClientError extends Error {
  /** Whether any byte of the request may have reached the server (false for `connect`, `invalid`, and a `timeout` before the connection was made). */
  readonly written: boolean;

  constructor(
    readonly kind: ClientFailure,
    message: string,
    written?: boolean,
  ) {
    super(message);
    this.name = 'ClientError';
    this.written = written ?? !(kind === 'connect' || kind === 'invalid');
  }
}

/**
 * Why an answer's body failed after its head (from `bytes()`, or as the
 * error of `stream()`), so the caller can answer 502 or cut its client:
 * - `too_large`: a body read whole (`bytes()`) grew past the client's
 *   `maxBufferedBytes`; the connection is closed.
 * - `idle`: no byte of the body arrived for `bodyIdleTimeoutMs`; the
 *   connection is closed.
 * - `broken`: the connection closed or reset mid-body, or the body's framing
 *   was malformed (a bad chunk).
 * (The caller's own abort or `cancel()` fail it with a plain Error.)
 */
export type ClientBodyFailure = 'too_large' | 'idle' | 'broken';

export class ClientBodyError extends Error {
  constructor(
    readonly kind: ClientBodyFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ClientBodyError';
  }
}

/** A listening server. */
export interface Listening {
  port: number;
  host: string;
  close(): Promise<void>;
}
