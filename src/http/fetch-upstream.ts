/**
 * The web-standard upstream client: `fetch`, on every runtime. Slower than a
 * pooled native one (a Request, Response and streams per request).
 */
import { UpstreamError, type UpstreamBody, type UpstreamClient } from './upstream.ts';

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
