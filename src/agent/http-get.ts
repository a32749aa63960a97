/**
 * How the agent fetches a /metrics page. The default uses undici with a
 * keep-alive pool per origin: at 20 scrapes per second per pod the global
 * `fetch` costs several times more CPU (see docs/benchmarks.md).
 */
import { Agent, request } from 'undici';

/** Resolve with the page's text; reject with a short reason (timeout, refused, HTTP status). */
export type MetricsGetter = (url: string, timeoutMs: number) => Promise<string>;

export function undiciGetter(): MetricsGetter & { close(): Promise<void> } {
  const dispatcher = new Agent({ keepAliveTimeout: 30_000, connections: 2, pipelining: 1 });
  const get = async (url: string, timeoutMs: number): Promise<string> => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await request(url, { dispatcher, signal, headers: { accept: 'text/plain' } });
      if (res.statusCode < 200 || res.statusCode >= 300) {
        await res.body.dump();
        throw new Error(`HTTP ${res.statusCode}`);
      }
      return await res.body.text();
    } catch (err) {
      throw new Error(describe(err, signal, timeoutMs));
    }
  };
  return Object.assign(get, { close: () => dispatcher.close() });
}

/** The web-standard getter (Deno, Workers, tests). */
export function fetchGetter(fetchFn: typeof fetch = fetch): MetricsGetter {
  return async (url, timeoutMs) => {
    const signal = AbortSignal.timeout(timeoutMs);
    try {
      const res = await fetchFn(url, { signal, headers: { accept: 'text/plain' } });
      if (!res.ok) {
        await res.body?.cancel();
        throw new Error(`HTTP ${res.status}`);
      }
      return await res.text();
    } catch (err) {
      throw new Error(describe(err, signal, timeoutMs));
    }
  };
}

function describe(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `timed out after ${timeoutMs} ms`;
  const e = err as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
