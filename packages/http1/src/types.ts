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
  body: Uint8Array;
  /** Aborts the exchange (the caller's client went away). */
  signal: AbortSignalLike;
  /** Give up if the response head has not arrived by then, ms. */
  headersTimeoutMs: number;
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
 * Why a request got no response: `connect` (refused, reset, or closed before
 * any answer), `timeout` (no head in time), `aborted` (the caller's signal),
 * `invalid` (the request cannot be written: a bad method, path or header).
 */
export type ClientFailure = 'connect' | 'timeout' | 'aborted' | 'invalid';

export class ClientError extends Error {
  constructor(
    readonly kind: ClientFailure,
    message: string,
  ) {
    super(message);
    this.name = 'ClientError';
  }
}

/** A listening server. */
export interface Listening {
  port: number;
  host: string;
  close(): Promise<void>;
}
