/**
 * The data plane on Deno with the least work per request: `Deno.serve`
 * answers the proxied OpenAI routes by calling the director directly — no
 * Hono routing, no web `Request` wrapper rebuilt, the body read once as bytes
 * — and hands every other request to the data-plane Hono app.
 *
 * The client's signal is a one-shot `AbortOnce` aborted when Deno's
 * `info.completed` rejects (the client went away), not the `Request`'s
 * `AbortSignal`: an EventTarget listener added and removed per request costs
 * more than the rest of the glue, and Deno's legacy `request.signal` also
 * aborts after every successful answer.
 *
 * The answer becomes a `Response` only at the end; headers a `Response`
 * cannot carry (a name that is not a token, a value with control characters)
 * are dropped, as the Node servers drop them, rather than failing the answer.
 */
import { AbortOnce } from '../../../packages/http1/src/abort-once.ts';
import { BAD_FIELD_VALUE, TOKEN } from '../../../packages/http1/src/grammar.ts';
import type { Hono } from 'hono';
import { GatewayError } from '../../api/errors.ts';
import { API_ROUTES, type ApiKind } from '../../api/openai.ts';
import type { Gateway } from '../../gateway/gateway.ts';
import type { Answer } from '../../http/answer.ts';
import { BodyTooLargeError, readUpTo, type InboundRequest } from '../../http/inbound.ts';

/** What Deno.serve passes a handler beside the request (the part used here). */
export interface ServeInfo {
  completed?: Promise<void>;
  remoteAddr?: { hostname?: string };
}

type Handler = (request: Request, info?: ServeInfo) => Response | Promise<Response>;

export function denoDataPlane(gateway: Gateway, app: Hono): Handler {
  const routes: Readonly<Record<string, ApiKind>> = API_ROUTES;
  const rest: Handler = (request) => app.fetch(request);
  return (request, info) => {
    if (request.method !== 'POST') return rest(request);
    const url = request.url;
    // `http://host[:port]/path?query`: the path starts at the first '/' after the scheme's '//'.
    const start = url.indexOf('/', url.indexOf('//') + 2);
    const q = url.indexOf('?', start);
    const path = q < 0 ? url.slice(start) : url.slice(start, q);
    const kind = Object.hasOwn(routes, path) ? routes[path] : undefined;
    if (!kind) return rest(request);
    return gateway.answer(kind, inbound(request, q < 0 ? '' : url.slice(q), info), path).then(toResponse);
  };
}

function inbound(request: Request, search: string, info: ServeInfo | undefined): InboundRequest {
  // `request.signal` is made on first use (and warned about by Deno): not touched when `completed` is there.
  let signal: InboundRequest['signal'];
  if (info?.completed) {
    const once = new AbortOnce();
    info.completed.then(undefined, () => once.abort());
    signal = once;
  } else {
    signal = request.signal;
  }
  const remoteAddress = info?.remoteAddr?.hostname;
  return {
    headers: request.headers,
    signal,
    ...(remoteAddress ? { remoteAddress } : {}),
    search,
    body: async (limit) => {
      const declared = request.headers.get('content-length');
      if (declared !== null && Number(declared) > limit) {
        void request.body?.cancel().catch(() => undefined);
        throw new BodyTooLargeError(limit);
      }
      try {
        if (declared !== null || !request.body) return new Uint8Array(await request.arrayBuffer());
        return await readUpTo(request.body.getReader(), limit, (reader) => void reader.cancel().catch(() => undefined));
      } catch (err) {
        if (err instanceof BodyTooLargeError) throw err;
        // Reading the client's own body failed: it went away mid-body. A 499, not a bug to log.
        throw new GatewayError({ status: 499, type: 'invalid_request_error', code: 'client_closed_request', message: `The client's request body could not be read: ${(err as Error).message}.` });
      }
    },
  };
}

const NULL_BODY = new Set([101, 204, 205, 304]);
/**
 * Headers Deno.serve writes itself (framing, connection, date), left out as
 * the Node fast server leaves them out: each header a `Response` is built with
 * costs ~1–2 µs of Deno's validation, a measurable share of a request.
 */
const SERVER_SET = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);

function toResponse(answer: Answer): Response {
  const headers: Record<string, string> = {};
  for (const name in answer.headers) {
    const value = answer.headers[name]!;
    if (!SERVER_SET.has(name) && TOKEN.test(name) && !BAD_FIELD_VALUE.test(value)) headers[name] = value;
  }
  let body = answer.body;
  if (NULL_BODY.has(answer.status) && body !== null) {
    if (body instanceof ReadableStream) void body.cancel().catch(() => undefined);
    body = null;
  }
  // 499: the client is gone; Deno drops whatever is answered.
  return new Response(body as BodyInit | null, { status: answer.status, headers });
}
