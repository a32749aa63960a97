/**
 * How the agent fetches a /metrics page: the web-standard getter over
 * `fetch` (Workers), and `clientGetter` over packages/http1's clients, which
 * Node and Deno inject (src/runtime/node/metrics-getter.ts).
 */
import type { AppProtocol } from '../endpoints/types.ts';
import { AbortOnce } from '../../packages/http1/src/abort-once.ts';
import { upstreamFailure, type UpstreamClient } from '../http/upstream.ts';

/**
 * Resolve with the page's text; reject with a short reason (timeout, refused,
 * HTTP status). `protocol` is the pod's (its pool's appProtocol): a getter
 * that cannot speak h2c says so.
 */
export type MetricsGetter = (url: string, timeoutMs: number, protocol?: AppProtocol) => Promise<string>;

/** The web-standard getter (Deno, Workers, tests); h2c pods are read through `h2c` when given. */
export function fetchGetter(fetchFn: typeof fetch = fetch, h2c?: MetricsGetter): MetricsGetter {
  return async (url, timeoutMs, protocol) => {
    if (protocol === 'h2c') {
      if (h2c) return h2c(url, timeoutMs, protocol);
      throw new Error(H2C_UNSUPPORTED);
    }
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await fetchFn(url, { signal, headers: { accept: 'text/plain' } });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      return await res.text();
    } catch (err) {
      throw new Error(describeGetError(err, signal, timeoutMs));
    }
  };
}

const H2C_UNSUPPORTED = 'this runtime cannot read an h2c (appProtocol kubernetes.io/h2c) pod: fetch speaks HTTP/2 only over TLS';

/**
 * A getter over an upstream client (packages/http1's HTTP/1.1 and h2c clients,
 * on Node and Deno): a GET whose answer is read whole within the timeout.
 */
export function clientGetter(client: UpstreamClient): MetricsGetter {
  const decoder = new TextDecoder();
  return async (url, timeoutMs, protocol) => {
    // A one-shot signal and a timer: an AbortController (EventTarget) or AbortSignal.timeout (a DOMException
    // with its stack when the timer runs out, used or not) costs far more at tens of scrapes a second per pod.
    const deadline = new AbortOnce();
    const timer = setTimeout(() => deadline.abort(), timeoutMs);
    try {
      const { origin, path } = splitUrl(url);
      const res = await client.request({ origin, method: 'GET', path, headers: { accept: 'text/plain' }, body: EMPTY, signal: deadline, headersTimeoutMs: timeoutMs, protocol });
      if (res.status < 200 || res.status >= 300) {
        res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      return res.body ? decoder.decode(await res.body.bytes()) : '';
    } catch (err) {
      const kind = upstreamFailure(err);
      // The deadline and the client's head timeout are the same length; whichever fires first, it is one timeout.
      if (deadline.aborted || kind === 'timeout') throw new Error(`timed out after ${timeoutMs} ms`);
      // `connect` reads as a refusal to the agent: an unreachable pod, not a slow one.
      throw new Error(kind === 'connect' ? `refused: ${(err as Error).message}` : (err as Error).message);
    } finally {
      clearTimeout(timer);
    }
  };
}

const EMPTY = new Uint8Array(0);

/** `http://host:port/path?query` → origin and path (a scrape URL the agent built); anything else through URL. */
function splitUrl(url: string): { origin: string; path: string } {
  const slash = url.startsWith('http://') ? url.indexOf('/', 7) : -1;
  if (slash > 7) return { origin: url.slice(0, slash), path: url.slice(slash) };
  const u = new URL(url);
  return { origin: u.origin, path: u.pathname + u.search };
}

/** A short reason for a failed GET: timeout, or the error code and message. */
function describeGetError(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `timed out after ${timeoutMs} ms`;
  const e = err as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
