/**
 * The HTTP/1.1 client of packages/http1 as the proxy's `UpstreamClient`, on
 * every runtime that uses it (Node, Deno).
 *
 * The client tells a failure before any byte was written (`connect`: the proxy
 * may send the request to another endpoint) from one after (`broken`: the
 * endpoint may have read the request; a POST must not be sent twice). Until
 * the proxy's failure kinds (src/http/upstream.ts) know `broken`, a broken
 * exchange is answered here as the 502 it must be — never retried, never
 * logged as a bug. Once they know it, it passes through unchanged and the
 * proxy decides (this checks the contract itself, once, at load).
 */
import { GatewayError } from '../api/errors.ts';
import { upstreamFailure, type UpstreamClient, type UpstreamRequest, type UpstreamResponse } from '../http/upstream.ts';

const proxyKnowsBroken = (upstreamFailure(Object.assign(new Error('probe'), { kind: 'broken' })) as string | undefined) === 'broken';

interface Http1Like {
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  close(): Promise<void>;
}

/** `client` as the proxy's upstream port. */
export function http1Upstream(client: Http1Like): UpstreamClient {
  if (proxyKnowsBroken) return client;
  return {
    request: (req) => client.request(req).catch(brokenAs502),
    close: () => client.close(),
  };
}

function brokenAs502(err: unknown): never {
  if (err instanceof Error && (err as { kind?: unknown }).kind === 'broken') {
    throw new GatewayError({
      status: 502,
      type: 'upstream_error',
      code: 'upstream_unavailable',
      message: `The model server closed the connection or sent a malformed answer after receiving the request (${err.message}). It was not retried on another endpoint, since it may have been processed; retry the request if that is safe.`,
    });
  }
  throw err;
}
