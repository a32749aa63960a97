/**
 * The proxied routes when node:http has the request (the fast server handed
 * it off: a chunked body, `Expect: 100-continue`, HTTP/1.0…): an
 * `InboundRequest` over node:http's own request, and the `Answer` written
 * back to its response — no web Request, Response or Hono on the way.
 *
 * - A client that goes away mid-body rejects `body()` with a 499
 *   GatewayError: the director answers it as a known outcome (nginx's
 *   "client closed request"), not as a bug with a stack trace in the log.
 * - A body over the limit, or declared over it, closes the connection after
 *   the 413 instead of reading the rest.
 * - Answer headers that cannot be written (a name that is not a token, a
 *   value with control characters) are dropped, as the fast server does,
 *   rather than failing the answer with node:http's `ERR_INVALID_CHAR`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { AbortOnce, BAD_FIELD_VALUE, drained, NodeHeaders, TOKEN } from '@infergate/http1';
import { GatewayError } from '../../api/errors.ts';
import type { Answer } from '../../http/answer.ts';
import { BodyTooLargeError, type InboundRequest } from '../../http/inbound.ts';

export interface NodeInbound extends InboundRequest {
  /** The connection must close after the answer (a body left unread). */
  readonly closeAfter: boolean;
}

const clientGone = () =>
  new GatewayError({ status: 499, type: 'invalid_request_error', code: 'client_closed_request', message: 'The client closed the connection before its request body arrived.' });

export function inboundFromNode(req: IncomingMessage, res: ServerResponse): NodeInbound {
  const signal = new AbortOnce();
  res.once('close', () => {
    if (!res.writableFinished) signal.abort();
  });
  const url = req.url ?? '';
  const q = url.indexOf('?');
  let closeAfter = false;
  return {
    headers: new NodeHeaders(req.headers),
    signal,
    search: q >= 0 ? url.slice(q) : '',
    ...(req.socket.remoteAddress ? { remoteAddress: req.socket.remoteAddress } : {}),
    get closeAfter() {
      return closeAfter;
    },
    body: (limit) =>
      new Promise<Uint8Array>((resolve, reject) => {
        const declared = req.headers['content-length'];
        if (declared !== undefined && Number(declared) > limit) {
          closeAfter = true;
          reject(new BodyTooLargeError(limit));
          return;
        }
        const chunks: Buffer[] = [];
        let size = 0;
        const done = (err?: Error) => {
          req.off('data', onData);
          req.off('end', onEnd);
          req.off('error', onGone);
          req.off('aborted', onGone);
          signal.removeEventListener('abort', onGone);
          if (err) reject(err);
          else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
        };
        const onData = (chunk: Buffer) => {
          size += chunk.length;
          if (size > limit) {
            closeAfter = true;
            req.pause();
            done(new BodyTooLargeError(limit));
            return;
          }
          chunks.push(chunk);
        };
        const onEnd = () => done();
        const onGone = () => done(clientGone());
        if (signal.aborted) return done(clientGone());
        req.on('data', onData);
        req.once('end', onEnd);
        req.once('error', onGone);
        req.once('aborted', onGone);
        signal.addEventListener('abort', onGone);
      }),
  };
}

/** Write the director's answer to node:http's response. */
export async function writeAnswer(res: ServerResponse, answer: Answer, closeAfter: boolean): Promise<void> {
  if (answer.status === 499 || res.destroyed) {
    if (answer.body instanceof ReadableStream) void answer.body.cancel().catch(() => undefined);
    res.destroy();
    return;
  }
  for (const name in answer.headers) {
    const value = answer.headers[name]!;
    if (TOKEN.test(name) && !BAD_FIELD_VALUE.test(value) && name !== 'content-length' && name !== 'transfer-encoding' && name !== 'connection') res.setHeader(name, value);
  }
  if (closeAfter) res.setHeader('connection', 'close');
  res.statusCode = answer.status;
  const body = answer.body;
  if (!(body instanceof ReadableStream)) {
    // node:http writes no body nor content-length for 204 and 304.
    const bytes = body === null ? undefined : typeof body === 'string' ? Buffer.from(body) : body;
    if (bytes && answer.status !== 204 && answer.status !== 304) res.setHeader('content-length', bytes.byteLength);
    res.end(answer.status === 204 || answer.status === 304 ? undefined : bytes);
    return;
  }
  const reader = body.getReader();
  const onClose = () => void reader.cancel(new Error('client disconnected')).catch(() => undefined);
  res.once('close', onClose);
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      if (res.destroyed) return;
      if (!res.write(value)) await drained(res);
    }
    res.end();
  } catch {
    // The upstream broke off mid-answer: cut the client's connection too, so it sees an incomplete answer.
    res.destroy();
  } finally {
    res.off('close', onClose);
  }
}
