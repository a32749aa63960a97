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
import { BAD_FIELD_VALUE, BAD_PATH, TOKEN } from './grammar.ts';
import { ClientError, type ClientRequest, type ClientResponse } from './types.ts';
import { Http1ResponseParser, type ResponseHead, type ResponseSink } from './response.ts';
import { Exchange } from './exchange.ts';

/** Idle kept-alive sockets are closed after this long unused. */
export const IDLE_TIMEOUT_MS = 30_000;
const SWEEP_EVERY_MS = 5_000;
const MID_ANSWER = 'the upstream closed the connection mid-answer';
/** Bodies up to this size are copied behind the head into one buffer; larger ones are written beside it. */
const COPY_BODY_LIMIT = 64 * 1024;

/** Framing and connection headers are this client's to write, whatever the caller passed. */
const OWN_HEADERS = new Set(['host', 'content-length', 'transfer-encoding', 'connection', 'keep-alive', 'upgrade', 'te', 'trailer']);

export class Http1Client {
  readonly #origins = new Map<string, Origin>();
  readonly #conns = new Set<Conn>();
  readonly #maxIdle: number;
  #sweeper: ReturnType<typeof setInterval> | undefined;

  /** `maxSockets`: idle kept-alive sockets kept per origin. */
  constructor(maxSockets = 512) {
    this.#maxIdle = maxSockets;
  }

  async request(req: ClientRequest): Promise<ClientResponse> {
    try {
      return await this.#send(req, false);
    } catch (err) {
      // A kept-alive socket the server had just closed: not the endpoint's fault; once more on a new one.
      if (err instanceof StaleSocketError) return this.#send(req, true);
      throw err;
    }
  }

  #send(req: ClientRequest, fresh: boolean): Promise<ClientResponse> {
    if (req.signal.aborted) return Promise.reject(new ClientError('aborted', 'the client went away'));
    const origin = this.#origin(req.origin);
    const head = requestHead(req, origin.hostHeader);
    let conn = fresh ? undefined : origin.take();
    const reused = conn !== undefined;
    if (!conn) {
      conn = new Conn(origin, this.#conns);
      this.#conns.add(conn);
    }
    const exchange = new Exchange(conn, req, reused);
    conn.start(exchange, req.method === 'HEAD');
    const body = req.body;
    const socket = conn.socket;
    if (body.byteLength <= COPY_BODY_LIMIT) {
      const buf = Buffer.allocUnsafe(head.length + body.byteLength);
      buf.write(head, 0, 'latin1');
      buf.set(body, head.length);
      socket.write(buf);
    } else {
      socket.cork();
      socket.write(head, 'latin1');
      socket.write(body);
      socket.uncork();
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
    const before = Date.now() - IDLE_TIMEOUT_MS;
    for (const [key, origin] of this.#origins) {
      origin.sweep(before);
      // Pods come and go with new addresses: forget an origin with no socket left.
      if (origin.open === 0) this.#origins.delete(key);
    }
  }

  async close(): Promise<void> {
    if (this.#sweeper) clearInterval(this.#sweeper);
    this.#sweeper = undefined;
    for (const conn of [...this.#conns]) conn.terminate(new Error('the upstream client was closed'));
    this.#origins.clear();
  }
}

class StaleSocketError extends Error {}

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

  take(): Conn | undefined {
    for (;;) {
      const conn = this.idle.pop();
      if (!conn) return undefined;
      if (conn.usable()) return conn;
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

  /** Close the sockets idle since before `before` (they are at the bottom). */
  sweep(before: number): void {
    let n = 0;
    while (n < this.idle.length && this.idle[n]!.idleSince < before) n++;
    if (n === 0) return;
    for (const conn of this.idle.splice(0, n)) conn.terminate();
  }
}

function parseOrigin(origin: string, maxIdle: number): Origin {
  const m = /^http:\/\/(\[[0-9A-Fa-f:.]+(?:%[^\]]+)?\]|[^/:[\]@]+)(?::(\d{1,5}))?\/?$/.exec(origin);
  if (!m) throw new ClientError('connect', `unsupported upstream origin ${JSON.stringify(origin)} (only http://host:port)`);
  const bracketed = m[1]!;
  const host = bracketed.startsWith('[') ? bracketed.slice(1, -1) : bracketed;
  const port = m[2] ? Number(m[2]) : 80;
  return new Origin(host, port, m[2] ? `${bracketed}:${port}` : bracketed, maxIdle);
}

/** The request line and headers; throws a 400 for anything that would let a value break out of its line. */
function requestHead(req: ClientRequest, hostHeader: string): string {
  if (!TOKEN.test(req.method)) throw invalidRequest(`the method ${JSON.stringify(req.method)} is not a valid HTTP method`);
  if (BAD_PATH.test(req.path)) throw invalidRequest('the request path contains characters that cannot be sent upstream');
  if (req.host !== undefined && (req.host === '' || BAD_FIELD_VALUE.test(req.host))) throw invalidRequest('the Host to forward is empty or contains control characters');
  let head = `${req.method} ${req.path} HTTP/1.1\r\nhost: ${req.host ?? hostHeader}\r\nconnection: keep-alive\r\n`;
  const headers = req.headers;
  for (const name in headers) {
    // Any letter case: a caller's `Content-Length` or `Transfer-Encoding` beside ours would reframe the body.
    if (OWN_HEADERS.has(name.toLowerCase())) continue;
    const value = headers[name]!;
    if (!TOKEN.test(name)) throw invalidRequest(`the header name ${JSON.stringify(name.slice(0, 80))} is not valid`);
    if (BAD_FIELD_VALUE.test(value)) throw invalidRequest(`the value of header ${name} contains control characters (CR, LF or NUL)`);
    head += `${name}: ${value}\r\n`;
  }
  return `${head}content-length: ${req.body.byteLength}\r\n\r\n`;
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
  dead = false;
  paused = false;
  /** Some byte of the current response has arrived. */
  answered = false;

  constructor(
    readonly origin: Origin,
    private readonly all: Set<Conn>,
  ) {
    this.parser = new Http1ResponseParser(this);
    origin.open++;
    const socket = connect({ host: origin.host, port: origin.port, noDelay: true });
    socket.setNoDelay(true);
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
      if (this.parser.headRead) exchange.bodyFailed(err as Error);
      else exchange.failHead(new ClientError('connect', (err as Error).message));
      return;
    }
    if (this.exchange !== exchange || !this.parser.complete) return;
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
      const code = err?.code;
      if (exchange.reused && !this.answered && (err === undefined || code === 'ECONNRESET' || code === 'EPIPE')) {
        exchange.failHead(new StaleSocketError(code ?? 'closed'));
      } else {
        const why = code ?? err?.message ?? (this.answered ? 'malformed response: the upstream closed the connection mid-head' : 'the upstream closed the connection before answering');
        exchange.failHead(new ClientError('connect', why));
      }
      return;
    }
    if (err) {
      exchange.bodyFailed(new Error(MID_ANSWER));
      return;
    }
    try {
      this.parser.finish();
    } catch {
      exchange.bodyFailed(new Error(MID_ANSWER));
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
    this.origin.open--;
    this.all.delete(this);
    this.origin.remove(this);
    this.socket.destroy();
  }
}
