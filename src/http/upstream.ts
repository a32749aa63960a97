import type { ClientSignal } from './inbound.ts';

/**
 * How the proxy talks to a model server. The core ships a web-standard
 * `fetch` client; runtimes may supply a faster one (Node: pooled undici).
 */
export interface UpstreamRequest {
  /** `http://address:port` */
  origin: string;
  method: string;
  /** Path and query, e.g. `/v1/chat/completions`. */
  path: string;
  headers: Record<string, string>;
  body: Uint8Array;
  /** Aborts the upstream request (client went away). */
  signal: ClientSignal;
  /** Give up if the response headers have not arrived by then. */
  headersTimeoutMs: number;
}

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

export type UpstreamFailure = 'connect' | 'timeout' | 'aborted';

/** The request got no response: `connect` failures (refused, reset) may be retried elsewhere. */
export class UpstreamError extends Error {
  constructor(
    readonly kind: UpstreamFailure,
    message: string,
  ) {
    super(message);
  }
}

export interface UpstreamClient {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close?(): Promise<void>;
}

/** The web-standard client: works on every runtime, slower than a pooled native one. */
export const fetchUpstream: UpstreamClient = {
  async request(req) {
    const controller = new AbortController();
    let timedOut = false;
    const onAbort = () => controller.abort(new Error('the client went away'));
    if (req.signal.aborted) throw new UpstreamError('aborted', 'the client went away');
    req.signal.addEventListener('abort', onAbort, { once: true });
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('headers timeout'));
    }, req.headersTimeoutMs);
    try {
      const res = await fetch(req.origin + req.path, {
        method: req.method,
        headers: req.headers,
        body: req.body.byteLength ? (req.body as BodyInit) : undefined,
        signal: controller.signal,
        redirect: 'manual',
      });
      return { status: res.status, headers: res.headers, body: res.body ? webBody(res.body) : null };
    } catch (err) {
      if (timedOut) throw new UpstreamError('timeout', `no response within ${req.headersTimeoutMs} ms`);
      if (req.signal.aborted) throw new UpstreamError('aborted', 'the client went away');
      const cause = (err as { cause?: { code?: string; message?: string } }).cause;
      throw new UpstreamError('connect', cause?.code ?? cause?.message ?? (err as Error).message);
    } finally {
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
    }
  },
};

/** An UpstreamBody over a web ReadableStream. */
export function webBody(source: ReadableStream<Uint8Array>): UpstreamBody {
  return {
    bytes: async () => new Uint8Array(await new Response(source).arrayBuffer()),
    stream: (onEnd, onFirst) => {
      const reader = source.getReader();
      let first = onFirst;
      return new ReadableStream<Uint8Array>({
        async pull(controller) {
          try {
            const { done, value } = await reader.read();
            if (done) {
              onEnd();
              controller.close();
            } else {
              if (first) {
                first();
                first = undefined;
              }
              controller.enqueue(value);
            }
          } catch (err) {
            onEnd();
            controller.error(err);
          }
        },
        cancel(reason) {
          onEnd();
          return reader.cancel(reason);
        },
      });
    },
    cancel: () => void source.cancel().catch(() => undefined),
  };
}
