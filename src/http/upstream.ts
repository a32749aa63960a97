/**
 * How the proxy talks to a model server. The core ships a web-standard
 * `fetch` client (./fetch-upstream.ts); a runtime may supply a faster one
 * (Node: the pooled HTTP/1.1 client of packages/http1).
 */
import type { ClientSignal } from './inbound.ts';

export interface UpstreamRequest {
  /** `http://address:port` */
  origin: string;
  method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  headers: Record<string, string>;
  /** The Host header to send (the client's, as a gateway forwards it); default the origin's `host:port`. A client that cannot set Host (web fetch) sends the origin's. */
  host?: string;
  body: Uint8Array;
  /** Aborts the upstream request (client went away). */
  signal: ClientSignal;
  /** Give up if the response headers have not arrived by then. */
  headersTimeoutMs: number;
  /** The pool's protocol to its pods (`h2c`: a Service port with `appProtocol: kubernetes.io/h2c`); default `http` (HTTP/1.1). */
  protocol?: UpstreamProtocol;
}

/** HTTP/1.1, or HTTP/2 over cleartext with prior knowledge. */
export type UpstreamProtocol = 'http' | 'h2c';

export interface UpstreamBody {
  /** The whole body (for answers that are not streamed). */
  bytes(): Promise<Uint8Array>;
  /** The body as it arrives; `onEnd` runs once when it ends, fails or is cancelled; `onFirst` at its first chunk. */
  stream(onEnd: () => void, onFirst?: () => void): ReadableStream<Uint8Array>;
  /** Drop the body unread. */
  cancel(): void;
}

/** Response headers as read: a web `Headers`, or a runtime's cheaper view of its native ones. */
export interface UpstreamHeaders {
  get(name: string): string | null;
  forEach(callback: (value: string, name: string) => void): void;
}

export interface UpstreamResponse {
  status: number;
  headers: UpstreamHeaders;
  body: UpstreamBody | null;
}

/**
 * Why a request got no response: `connect` (refused, or failed before any
 * byte of the request was written: may be sent to another endpoint),
 * `broken` (closed, reset or answered malformed after the request was
 * written: the endpoint may have processed it, so it is never sent again),
 * `timeout` (no head in time), `aborted` (the client went away), `invalid`
 * (the request cannot be written: a header value the wire cannot carry),
 * `unsupported` (this runtime cannot speak the pool's protocol; nothing was sent).
 */
export type UpstreamFailure = 'connect' | 'broken' | 'timeout' | 'aborted' | 'invalid' | 'unsupported';

const FAILURES: ReadonlySet<string> = new Set<UpstreamFailure>(['connect', 'broken', 'timeout', 'aborted', 'invalid', 'unsupported']);

/**
 * An `UpstreamClient.request` rejects with an error carrying one of these
 * kinds; any other rejection is a bug. A client need not use this class: the
 * contract is the `kind` (see upstreamFailure).
 */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
  ) {
    super(message);
  }
}

/** The failure an upstream client reported, or undefined when `err` is not one (a bug). */
export function upstreamFailure(err: unknown): UpstreamFailure | undefined {
  if (!(err instanceof Error)) return undefined;
  const kind = (err as { kind?: unknown }).kind;
  return typeof kind === 'string' && FAILURES.has(kind) ? (kind as UpstreamFailure) : undefined;
}

export interface UpstreamClient {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close?(): Promise<void>;
}

/**
 * One client per protocol: a request to an h2c pool goes to `h2c`, any other
 * to `http`. A runtime with no h2c client (Workers: `fetch` cannot speak
 * HTTP/2 without TLS) refuses such a request as `unsupported`, sending nothing.
 */
export function byProtocol(clients: { http: UpstreamClient; h2c?: UpstreamClient; runtime: string }): UpstreamClient & { close(): Promise<void> } {
  const { http, h2c, runtime } = clients;
  return {
    request: (req) => {
      if (req.protocol !== 'h2c') return http.request(req);
      if (h2c) return h2c.request(req);
      return Promise.reject(new UpstreamError('unsupported', `the gateway on ${runtime} cannot speak HTTP/2 cleartext (appProtocol kubernetes.io/h2c) to model servers`));
    },
    close: async () => {
      await Promise.all([http.close?.(), h2c?.close?.()]);
    },
  };
}
