/**
 * How the agent fetches a /metrics page. This is the web-standard getter;
 * Node injects a faster one over undici (src/runtime/node/metrics-getter.ts),
 * kept there because undici is Node-only.
 */

/** Resolve with the page's text; reject with a short reason (timeout, refused, HTTP status). */
export type MetricsGetter = (url: string, timeoutMs: number) => Promise<string>;

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
      throw new Error(describeGetError(err, signal, timeoutMs));
    }
  };
}

/** A short reason for a failed GET: timeout, or the error code and message. */
export function describeGetError(err: unknown, signal: AbortSignal, timeoutMs: number): string {
  if (signal.aborted) return `timed out after ${timeoutMs} ms`;
  const e = err as { message?: string; code?: string; cause?: { code?: string; message?: string } };
  const code = e.code ?? e.cause?.code;
  const message = e.cause?.message ?? e.message ?? String(err);
  return code && !message.includes(code) ? `${code}: ${message}` : message;
}
