/**
 * @infergate/http1 — HTTP/1.1 over node:net for a proxy's hot path: a strict
 * server for a few routes (anything else handed, with the bytes read, to
 * node:http) and a pooled keep-alive client. Its API knows nothing of the
 * application: requests, answers and errors are the plain shapes of ./types.ts.
 *
 * @example
 * const server = await listenFast({ routes: { '/v1/echo': 'echo' }, handle, fallback, bodyLimit: 1 << 20 }, 8080);
 * const client = new Http1Client();
 * const res = await client.request({ origin: 'http://10.0.0.7:8000', method: 'POST', path: '/v1/echo', headers: {}, body, signal, headersTimeoutMs: 30_000 });
 */
export { listenFast, drained, type ConnectionStats, type FastListening, type FastServerOptions } from './server.ts';
export { Http1Client, IDLE_TIMEOUT_MS, type Http1ClientOptions } from './client.ts';
export { H2cClient, type H2cClientOptions } from './h2c-client.ts';
export { AbortOnce } from './abort-once.ts';
export { NodeHeaders } from './headers.ts';
export { TOKEN, BAD_FIELD_VALUE } from './grammar.ts';
export {
  BodyTooLargeError,
  ClientBodyError,
  ClientError,
  type ClientBodyFailure,
  type AbortSignalLike,
  type ClientBody,
  type ClientFailure,
  type ClientRequest,
  type ClientResponse,
  type HeaderView,
  type Listening,
  type ServerAnswer,
  type ServerRequest,
} from './types.ts';
