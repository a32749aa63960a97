/**
 * A purpose-built HTTP/1.1 server over node:net for a few hot requests —
 * `POST` to one of the given routes with a `content-length` body — and
 * node:http for everything else.
 *
 * Why: per request, node:http's IncomingMessage/ServerResponse machinery costs
 * more CPU than an inference gateway's routing and scheduling together (bench:proxy:
 * a bare node:http proxy does a third of nginx's requests/s here, the same
 * proxy over raw sockets ~90%). This server parses only the request shape it
 * can parse with certainty, strictly; any other byte sequence (another method
 * or path, `transfer-encoding`, `expect`, `upgrade`, HTTP/1.0, an odd header
 * line, a head over 16 KiB) hands the connection, with the bytes already
 * read, to a node:http server that answers from there on — so what is not
 * the hot path keeps node:http's full (llhttp) behaviour, including its
 * errors, and no ambiguous message is ever interpreted twice.
 */
import net from 'node:net';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Admission, type ConnectionStats } from './admission.ts';
import { Connection, type Limits } from './connection.ts';
import { closeFallback, createFallback, type ErrorBody } from './fallback.ts';
import type { Listening, ServerAnswer, ServerRequest } from './types.ts';
import { drained } from './wire.ts';

export { drained };
export type { ConnectionStats };

export interface FastServerOptions<K extends string = string> {
  /** `POST` paths served by the fast path, each with the kind of request it is (handed to `handle`). */
  routes: Readonly<Record<string, K>>;
  /** Answer one request. It should never reject: a rejection is reported to `onError` and answered 500. */
  handle(kind: K, request: ServerRequest, path: string): Promise<ServerAnswer>;
  /**
   * The body of an answer this server makes itself (400, 408, 431, and 500
   * when `handle` rejects), in the application's error shape; default: a
   * plain-text reason.
   */
  errorBody?: ErrorBody;
  /** A bug reported: `handle` rejected (default: logged to stderr as one JSON line). */
  onError?(err: unknown): void;
  /** The node:http listener for everything else. */
  fallback: (req: IncomingMessage, res: ServerResponse) => void;
  /** Bodies declared larger are answered by `handle` (413) without being read, then drained (up to `maxDrainBytes`) or the connection closed. */
  bodyLimit: number;
  /** An idle connection is closed after this long, ms (default 65 000). */
  keepAliveTimeoutMs?: number;
  /** A request whose head takes longer to arrive is answered 408, ms (default 60 000, node:http's `headersTimeout`). */
  headersTimeoutMs?: number;
  /** A request whose head and body take longer to arrive is answered 408, ms (default 60 000). */
  requestTimeoutMs?: number;
  /**
   * A client that reads none of its answer for this long, while the answer is backed up, is cut, ms (default
   * 60 000, nginx's `send_timeout`): the time between two writes that complete, not for the whole answer.
   * A streamed answer's stream is then cancelled, as when the client leaves.
   */
  sendTimeoutMs?: number;
  /** Connections open at once; more are closed unanswered and counted (default 10 000). */
  maxConnections?: number;
  /** Connections open at once from one client address (default 1 000; see ./admission.ts). */
  maxConnectionsPerClient?: number;
  /** After a 413, the rest of a declared body up to this size is read and dropped to keep the connection; a larger one closes it (default 16 MiB; the request timeout bounds the time). */
  maxDrainBytes?: number;
}

/** A listening fast server. */
export interface FastListening extends Listening {
  /** Open and refused connections (for metrics). */
  connections(): Readonly<ConnectionStats>;
  /**
   * Stop listening. With `graceMs`, drain first: idle connections close at once, a request under way gets its
   * answer (with `connection: close`) for up to `graceMs`; then every connection left is cut.
   */
  close(graceMs?: number): Promise<void>;
}

const plainError: ErrorBody = (_status, _code, message) => ({ contentType: 'text/plain; charset=utf-8', body: message });

export function listenFast<K extends string>(options: FastServerOptions<K>, port: number, host = '127.0.0.1'): Promise<FastListening> {
  const keepAliveMs = options.keepAliveTimeoutMs ?? 65_000;
  const requestMs = options.requestTimeoutMs ?? 60_000;
  const limits: Limits = {
    headersMs: Math.min(options.headersTimeoutMs ?? 60_000, requestMs),
    requestMs,
    sendMs: options.sendTimeoutMs ?? 60_000,
    maxDrain: options.maxDrainBytes ?? 16 << 20,
    errorBody: options.errorBody ?? plainError,
  };
  // node:http checks its timeouts this often; so does the sweep of the fast connections below.
  const checkEveryMs = Math.max(10, Math.min(1_000, Math.floor(limits.headersMs / 4)));
  const fallback = createFallback({
    listener: options.fallback,
    errorBody: limits.errorBody,
    keepAliveTimeoutMs: keepAliveMs,
    headersTimeoutMs: limits.headersMs,
    requestTimeoutMs: requestMs,
    checkEveryMs,
  });
  const admission = new Admission(options.maxConnections ?? 10_000, options.maxConnectionsPerClient ?? 1_000);
  const sockets = new Set<net.Socket>();
  const live = new Set<Connection>();
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    const address = socket.remoteAddress ?? '';
    if (!admission.admit(address)) {
      socket.destroy();
      return;
    }
    sockets.add(socket);
    const conn = new Connection(socket, options, fallback, keepAliveMs, limits, live);
    socket.once('close', () => {
      sockets.delete(socket);
      live.delete(conn);
      admission.release(address);
    });
  });
  // Header and request timeouts of the connections this server reads itself: a sweep, not a timer per request.
  const sweep = setInterval(() => {
    const now = Date.now();
    for (const conn of live) conn.check(now);
  }, checkEveryMs).unref();
  return new Promise((resolve, reject) => {
    server.once('error', (err) => {
      clearInterval(sweep);
      closeFallback(fallback);
      reject(err);
    });
    server.listen(port, host, () => {
      server.removeAllListeners('error');
      resolve({
        port: (server.address() as net.AddressInfo).port,
        host,
        connections: () => admission.stats,
        close: async (graceMs = 0) => {
          const closed = new Promise<void>((done) => server.close(() => done()));
          if (graceMs > 0 && sockets.size > 0) {
            // Drain: no new connection; idle ones close now, busy ones after their answer (sent with
            // `connection: close`), node:http's likewise; what is left when the grace ends is cut.
            for (const conn of live) conn.drain();
            fallback.close(() => undefined);
            fallback.closeIdleConnections();
            const deadline = Date.now() + graceMs;
            while (sockets.size > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, Math.min(50, deadline - Date.now())));
          }
          clearInterval(sweep);
          closeFallback(fallback);
          for (const s of sockets) s.destroy();
          await closed;
        },
      });
    });
  });
}

