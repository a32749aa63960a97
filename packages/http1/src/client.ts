/**
 * The client: HTTP/1.1 straight over node:net sockets, kept
 * alive in a pool per origin. Per request it writes the head and body in one
 * go and reads the answer with a small parser (./response.ts), handing
 * the body on as views of the socket's own chunks. node:http's
 * ClientRequest/IncomingMessage/Agent machinery cost about half the proxy's
 * throughput on this path; this does not build any of it.
 */
import { Buffer } from 'node:buffer';
import { connect, type Socket } from 'node:net';
import { BAD_FIELD_VALUE, BAD_PATH, fieldName, TOKEN } from './grammar.ts';
import { ClientBodyError, ClientError, type ClientRequest, type ClientResponse } from './types.ts';
import { Http1ResponseParser, type ResponseHead, type ResponseSink } from './response.ts';
import { Exchange } from './exchange.ts';
import { Deadlines } from './deadlines.ts';
import { batchWrite } from './write-batch.ts';

/**
 * Idle kept-alive sockets are closed after this long unused, and never reused
 * past it: below the 5 s after which uvicorn (vLLM, SGLang) closes an idle
 * connection, so that a request is not written to a socket the server is
 * closing (a request written there may or may not have been read, and is then
 * `broken`, never re-sent). undici's default is the same 4 s. A server's
 * `Keep-Alive: timeout=N` shortens it to N − 1 s.
 */
export const IDLE_TIMEOUT_MS = 4_000;
const SWEEP_EVERY_MS = 5_000;
const MID_ANSWER = 'the upstream closed the connection mid-answer';
/** Bodies up to this size are copied behind the head into one buffer; larger ones are written beside it. */
const COPY_BODY_LIMIT = 64 * 1024;

/** Framing and connection headers are this client's to write, whatever the caller passed. */
const OWN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);

export interface Http1ClientOptions {
  /** Idle kept-alive sockets kept per origin (default 512). */
  maxSockets?: number;
  /** A body read whole (`bytes()`) larger than this fails with ClientBodyError `too_large` (default 64 MiB). */
  maxBufferedBytes?: number;
  /** A body with no byte for this long fails with ClientBodyError `idle`, ms (default 300 000, Envoy's stream idle timeout); a request may set its own. */
  bodyIdleTimeoutMs?: number;
  /**
   * A connection not made within this long fails the request as `connect` (nothing written: it may go to
   * another endpoint), ms (default 5 000, Envoy's cluster `connect_timeout`).
   */
  connectTimeoutMs?: number;
}

export class Http1Client {
  readonly #origins = new Map<string, Origin>();
  readonly #conns = new Set<Conn>();
  readonly #maxIdle: number;
  readonly #limits: { maxBuffered: number; bodyIdleMs: number; connectMs: number };
  readonly #deadlines = new Deadlines<Exchange>();
  #sweeper: ReturnType<typeof setInterval> | undefined;

  /** A number is `maxSockets` (idle kept-alive sockets kept per origin). */
  constructor(options: number | Http1ClientOptions = {}) {
    const o = typeof options === 'number' ? { maxSockets: options } : options;
    this.#maxIdle = o.maxSockets ?? 512;
    this.#limits = { maxBuffered: o.maxBufferedBytes ?? 64 << 20, bodyIdleMs: o.bodyIdleTimeoutMs ?? 300_000, connectMs: o.connectTimeoutMs ?? 5_000 };
  }

  /**
   * Send one request; never twice (see ClientFailure): a failure before any
   * byte was written rejects with `connect`, one after with `broken`.
   */
  request(req: ClientRequest): Promise<ClientResponse> {
    if (req.signal.aborted) return Promise.reject(new ClientError('aborted', 'the client went away', false));
    let origin: Origin;
    let head: string;
    try {
      origin = this.#origin(req.origin);
      head = requestHead(req, origin.hostHeader);
    } catch (err) {
      return Promise.reject(err);
    }
    let conn = origin.take(Date.now());
    if (!conn) {
      conn = new Conn(origin, this.#conns, this.#limits.connectMs);
      this.#conns.add(conn);
    }
    const exchange = new Exchange(conn, req, this.#limits.maxBuffered, req.bodyIdleTimeoutMs ?? this.#limits.bodyIdleMs, this.#deadlines);
    conn.start(exchange, req.method === 'HEAD');
    const body = req.body;
    const socket = conn.socket;
    if (body.byteLength <= COPY_BODY_LIMIT) {
      const buf = Buffer.allocUnsafe(head.length + body.byteLength);
      buf.write(head, 0, 'latin1');
      buf.set(body, head.length);
      batchWrite(socket, buf);
    } else {
      batchWrite(socket, head, 'latin1');
      batchWrite(socket, body);
    }
    return exchange.response;
  }

  #origin(key: string): Origin {
    let origin = this.#origins.get(key);
    if (!origin) {
      origin = parseOrigin(key, this.#maxIdle);
      this.#origins.set(key, origin);
      this.#sweeper ??= setInterval(() => this.#sweep(), SWEEP_EVERY_MS).unref();
    }
    return origin;
  }

  #sweep(): void {
    const now = Date.now();
    for (const [key, origin] of this.#origins) {
      origin.sweep(now);
      // Pods come and go with new addresses: forget an origin with no socket left.
      if (origin.open === 0) this.#origins.delete(key);
    }
  }

  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const conn of [...this.#conns]) conn.terminate(new Error('the upstream client was closed'));
    this.#deadlines.clear();
    this.#origins.clear();
  }
}

/** One origin's idle kept-alive sockets, most recently used on top. */
class Origin {
  readonly idle: Conn[] = [];
  /** Sockets to this origin, idle or busy. */
  open = 0;

  constructor(
    readonly host: string,
    readonly port: number,
    readonly hostHeader: string,
    readonly maxIdle: number,
  ) {}

  take(now: number): Conn | undefined {
    for (;;) {
      const conn = this.idle.pop();
      if (!conn) return undefined;
      if (conn.usable() && now - conn.idleSince <= conn.idleLimit) return conn;
      conn.terminate();
    }
  }

  release(conn: Conn): void {
    if (this.idle.length >= this.maxIdle) {
      conn.terminate();
      return;
    }
    conn.idleSince = Date.now();
    this.idle.push(conn);
  }

  remove(conn: Conn): void {
    const k = this.idle.lastIndexOf(conn);
    if (k >= 0) this.idle.splice(k, 1);
  }

  /** Close the sockets idle for longer than their limit. */
  sweep(now: number): void {
    const stale = this.idle.filter((conn) => now - conn.idleSince > conn.idleLimit);
    for (const conn of stale) conn.terminate();
  }
}

function parseOrigin(origin: string, maxIdle: number): Origin {
  const { host, port, hostHeader } = originParts(origin);
  return new Origin(host, port, hostHeader, maxIdle);
}

/** An `http://host:port` origin's host, port and Host header; throws `connect` for any other shape. */
export function originParts(origin: string): { host: string; port: number; hostHeader: string } {
  const m = /^http:\/\/(\[[0-9A-Fa-f:.]+(?:%[^\]]+)?\]|[^/:[\]@]+)(?::(\d{1,5}))?\/?$/.exec(origin);
  if (!m) throw new ClientError('connect', `unsupported upstream origin ${JSON.stringify(origin)} (only http://host:port)`);
  const bracketed = m[1]!;
  const host = bracketed.startsWith('[') ? bracketed.slice(1, -1) : bracketed;
  const port = m[2] ? Number(m[2]) : 80;
  return { host, port, hostHeader: m[2] ? `${bracketed}:${port}` : bracketed };
}

/** The request line and headers; throws a 400 for anything that would let a value break out of its line. */
function requestHead(req: ClientRequest, hostHeader: string): string {
  if (!TOKEN.test(req.method)) throw invalidRequest(`the method ${JSON.stringify(req.method)} is not a valid HTTP method`);
  if (BAD_PATH.test(req.path)) throw invalidRequest('the request path contains characters that cannot be sent upstream');
  if (req.host !== undefined && (req.host === '' || BAD_FIELD_VALUE.test(req.host))) throw invalidRequest('the Host to forward is empty or contains control characters');
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.host ?? hostHeader}\r\nconnection: keep-alive\r\n`;
  const headers = req.headers;
  for (const name in headers) {
    const lower = fieldName(name);
    if (lower === null) throw invalidRequest(`the header name ${JSON.stringify(name.slice(0, 80))} is not valid`);
    // Any letter case: a caller's `Content-Length` or `Transfer-Encoding` beside ours would reframe the body.
    if (OWN_HEADERS.has(lower)) continue;
    const value = headers[name]!;
    if (BAD_FIELD_VALUE.test(value)) throw invalidRequest(`the value of header ${name} contains control characters (CR, LF or NUL)`);
    head += `${name}: ${value}\r\n`;
  }
  // A GET or HEAD without content says nothing of a length (RFC 9110 §8.6: a user agent should not send one).
  if (req.body.byteLength === 0 && (req.method === 'GET' || req.method === 'HEAD')) return `${head}\r\n`;
  return `${head}content-length: ${req.body.byteLength}\r\n\r\n`;
}

/** The idle limit a `Keep-Alive: timeout=N` hint allows: N − 1 s (as undici), at most IDLE_TIMEOUT_MS. */
function keepAliveLimit(hint: string): number {
  const m = /(?:^|[,;\s])timeout\s*=\s*(\d+)/i.exec(hint);
  return m ? Math.min(IDLE_TIMEOUT_MS, Math.max(0, Number(m[1]) * 1000 - 1000)) : IDLE_TIMEOUT_MS;
}

function invalidRequest(message: string): ClientError {
  return new ClientError('invalid', `${message}; the request was not forwarded.`);
}

/** One socket to an origin, carrying one exchange at a time. */
class Conn implements ResponseSink {
  readonly socket: Socket;
  readonly parser: Http1ResponseParser;
  exchange: Exchange | null = null;
  idleSince = 0;
  /** How long this socket may stay idle and be reused, ms (the server's Keep-Alive hint, else IDLE_TIMEOUT_MS). */
  idleLimit = IDLE_TIMEOUT_MS;
  dead = false;
  paused = false;
  /** Some byte of the current response has arrived. */
  answered = false;
  /**
   * The connection was established. Before that, a request handed to the
   * socket is only buffered: if connecting fails, no byte of it was written.
   */
  connected = false;
  #connectTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    readonly origin: Origin,
    private readonly all: Set<Conn>,
    connectMs: number,
  ) {
    this.parser = new Http1ResponseParser(this);
    origin.open++;
    const socket = connect({ host: origin.host, port: origin.port, noDelay: true });
    socket.setNoDelay(true);
    // A SYN nobody answers (the address of a deleted pod) would wait out the kernel's retries, or the request's
    // head timeout and a 504; given up on sooner, it fails as `connect` and the proxy tries another endpoint.
    this.#connectTimer = setTimeout(() => this.terminate(new Error(`no connection within ${connectMs} ms`)), connectMs);
    socket.once('connect', () => {
      this.connected = true;
      clearTimeout(this.#connectTimer);
    });
    socket.on('data', (chunk: Buffer) => this.#onData(chunk));
    socket.on('end', () => this.terminate());
    socket.on('error', (err) => this.terminate(err));
    socket.on('close', () => this.terminate());
    this.socket = socket;
  }

  usable(): boolean {
    return !this.dead && !this.socket.destroyed && this.socket.writable;
  }

  start(exchange: Exchange, noBody: boolean): void {
    this.exchange = exchange;
    this.answered = false;
    this.parser.reset(noBody);
  }

  pause(): void {
    if (this.paused || this.dead) return;
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused || this.dead) return;
    this.paused = false;
    this.socket.resume();
  }

  onHead(head: ResponseHead): void {
    const hint = head.headers.get('keep-alive');
    if (hint !== null) this.idleLimit = keepAliveLimit(hint);
    this.exchange?.onHead(head);
  }

  onBody(chunk: Buffer): void {
    this.exchange?.onBody(chunk);
  }

  #onData(chunk: Buffer): void {
    const exchange = this.exchange;
    if (!exchange) {
      // Bytes on an idle socket: nobody asked; the connection can't be trusted.
      this.terminate();
      return;
    }
    this.answered = true;
    let rest: number;
    try {
      rest = this.parser.execute(chunk);
    } catch (err) {
      this.exchange = null;
      this.#destroy();
      // The request was written (an answer came): never `connect`.
      if (this.parser.headRead) exchange.bodyFailed(new ClientBodyError('broken', (err as Error).message));
      else exchange.failHead(new ClientError('broken', (err as Error).message, true));
      return;
    }
    if (this.exchange !== exchange) return;
    if (!this.parser.complete) {
      if (this.parser.headRead) exchange.awaitMore();
      return;
    }
    this.exchange = null;
    exchange.bodyDone();
    if (rest === 0 && this.parser.keepAlive && !this.dead) {
      this.resume();
      this.origin.release(this);
    } else {
      this.terminate();
    }
  }

  /** The socket ended, failed or is dropped: settle what it carried and forget it. */
  terminate(err?: Error & { code?: string }): void {
    const exchange = this.exchange;
    this.exchange = null;
    if (!this.dead) this.#destroy();
    if (!exchange) return;
    if (!this.parser.headRead) {
      const why = err?.code ?? err?.message ?? (this.answered ? 'malformed response: the upstream closed the connection mid-head' : 'the upstream closed the connection before answering');
      // Refused or failed before connecting: nothing was written, the request may go elsewhere.
      // Once connected, the request was written and may have been read: `broken`, never re-sent.
      exchange.failHead(new ClientError(this.connected ? 'broken' : 'connect', why));
      return;
    }
    if (err) {
      exchange.bodyFailed(new ClientBodyError('broken', MID_ANSWER));
      return;
    }
    try {
      this.parser.finish();
    } catch {
      exchange.bodyFailed(new ClientBodyError('broken', MID_ANSWER));
      return;
    }
    exchange.bodyDone();
  }

  /** Drop the socket without settling anything (the exchange already did). */
  kill(): void {
    this.exchange = null;
    if (!this.dead) this.#destroy();
  }

  #destroy(): void {
    if (this.dead) return;
    this.dead = true;
    clearTimeout(this.#connectTimer);
    this.origin.open--;
    this.all.delete(this);
    this.origin.remove(this);
    this.socket.destroy();
  }
}
