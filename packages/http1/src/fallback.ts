/**
 * The node:http server that answers every connection the fast server hands
 * off (./server.ts), set up to be as strict and as bounded as a listening
 * node:http server — it never listens itself:
 *
 * - Timeouts: node:http checks `headersTimeout` and `requestTimeout` of its
 *   connections only once it has emitted 'listening' (that starts its
 *   connection tracking and the check interval). A server fed sockets through
 *   'connection' never gets that event, so a connection handed off after one
 *   byte was never timed out; we emit it, which starts exactly node:http's own
 *   checks (408 and close), and `close()` stops them.
 * - Host: node:http answers a bare 400 to an HTTP/1.1 request without Host,
 *   but serves one with two Host lines or an invalid one; RFC 9112 §3.2 says
 *   400 to all three, and so does this.
 * - Its own error answers (400, 408, 431) carry the application's error body
 *   (an inference gateway's OpenAI-shaped JSON) instead of a bare status.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { HOST } from './grammar.ts';

export type ErrorBody = (status: number, code: string, message: string) => { contentType: string; body: string };

export interface FallbackOptions {
  listener: (req: IncomingMessage, res: ServerResponse) => void;
  errorBody: ErrorBody;
  keepAliveTimeoutMs: number;
  headersTimeoutMs: number;
  requestTimeoutMs: number;
  /** How often node:http checks the two timeouts, ms. */
  checkEveryMs: number;
}

export function createFallback(options: FallbackOptions): Server {
  const { listener, errorBody } = options;
  const server = createServer(
    {
      keepAliveTimeout: options.keepAliveTimeoutMs,
      headersTimeout: options.headersTimeoutMs,
      requestTimeout: options.requestTimeoutMs,
      connectionsCheckingInterval: options.checkEveryMs,
      // Checked below instead, to answer in the application's error shape.
      requireHostHeader: false,
      noDelay: true,
    },
    (req, res) => {
      const bad = badHost(req);
      if (bad) {
        const { contentType, body } = errorBody(400, 'invalid_host', bad);
        res.writeHead(400, { 'content-type': contentType, 'content-length': Buffer.byteLength(body), connection: 'close' });
        res.end(body);
        return;
      }
      listener(req, res);
    },
  );
  server.on('clientError', (err: Error & { code?: string }, socket: Socket) => {
    // As node:http's default handler: answer unless an answer has begun on the connection (its bytes would be
    // corrupted). A request whose body is malformed (a bad chunk, or a Transfer-Encoding other than chunked
    // last, RFC 9112 §6.3) already has a ServerResponse, with nothing sent yet: it gets its 400.
    const answering = (socket as Socket & { _httpMessage?: { _headerSent?: boolean } | null })._httpMessage?._headerSent === true;
    if (err.code === 'ECONNRESET' || !socket.writable || answering) {
      socket.destroy();
      return;
    }
    const status = err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const code = status === 431 ? 'header_too_large' : status === 408 ? 'request_timeout' : 'malformed_request';
    const message =
      status === 431
        ? 'The request head is too large; send fewer or shorter headers.'
        : status === 408
          ? 'The request did not arrive in time; send it again.'
          : `The request is not valid HTTP/1.1 (${err.code ?? 'parse error'}); check the method, target, headers and framing.`;
    const { contentType, body } = errorBody(status, code, message);
    socket.end(`HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\ncontent-type: ${contentType}\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`, 'latin1');
    setTimeout(() => socket.destroy(), 1_000).unref();
  });
  // Starts node:http's connection tracking and its header/request timeout checks (see above).
  server.emit('listening');
  return server;
}

/** Why the request's Host is not acceptable, or undefined. */
function badHost(req: IncomingMessage): string | undefined {
  const raw = req.rawHeaders;
  let hosts = 0;
  let value = '';
  for (let i = 0; i < raw.length; i += 2) {
    if (raw[i]!.length === 4 && raw[i]!.toLowerCase() === 'host') {
      hosts++;
      value = raw[i + 1]!;
    }
  }
  if (hosts === 0 && req.httpVersionMajor === 1 && req.httpVersionMinor === 1) return 'The request has no Host header; HTTP/1.1 requires one.';
  if (hosts > 1) return 'The request has more than one Host header; send exactly one.';
  if (hosts === 1 && !HOST.test(value)) return `The Host header ${JSON.stringify(value.slice(0, 80))} is not a valid host[:port]; send a valid one.`;
  return undefined;
}

/** Stop the fallback: its timeout checks, and every connection it has. */
export function closeFallback(server: Server): void {
  server.close(() => undefined);
  server.closeAllConnections();
}
