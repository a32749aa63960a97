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
import { STATUS_CODES, createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { AbortOnce } from './abort-once.ts';
import { BAD_FIELD_VALUE, TOKEN } from './grammar.ts';
import { NodeHeaders } from './headers.ts';
import { parseHead, type Head } from './request-head.ts';
import { BodyTooLargeError, type Listening, type ServerAnswer, type ServerRequest } from './types.ts';

export interface FastServerOptions<K extends string = string> {
  /** `POST` paths served by the fast path, each with the kind of request it is (handed to `handle`). */
  routes: Readonly<Record<string, K>>;
  /** Answer one request. It should never reject: a rejection is reported to `onError` and answered 500. */
  handle(kind: K, request: ServerRequest, path: string): Promise<ServerAnswer>;
  /**
   * The body of an answer this server makes itself (408, and 500 when `handle`
   * rejects), in the application's error shape; default: a plain-text reason.
   */
  errorBody?(status: number, code: string, message: string): { contentType: string; body: string };
  /** A bug reported: `handle` rejected (default: logged to stderr as one JSON line). */
  onError?(err: unknown): void;
  /** The node:http listener for everything else. */
  fallback: (req: IncomingMessage, res: ServerResponse) => void;
  /** Bodies declared larger are answered by `handle` (413) without being read, then drained. */
  bodyLimit: number;
  /** An idle connection is closed after this long, ms. */
  keepAliveTimeoutMs?: number;
  /** A request whose head and body take longer to arrive is answered 408, ms. */
  requestTimeoutMs?: number;
}

const MAX_HEAD = 16 * 1024;
/** Bytes a client may send ahead (pipelining) while its request is answered, before reading pauses. */
const MAX_AHEAD = 64 * 1024;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const POST = Buffer.from('POST ');
const KEEP_ALIVE_HEADERS = 'connection: keep-alive\r\n';

const plainError = (_status: number, _code: string, message: string) => ({ contentType: 'text/plain; charset=utf-8', body: message });
const logError = (err: unknown) => console.error(JSON.stringify({ level: 'error', msg: 'unexpected error', error: String((err as Error)?.stack ?? err) }));

const enum State {
  Head,
  Body,
  Busy,
  /** Answered an over-limit request; its body is still arriving and is dropped before the next head. */
  Drain,
  Closed,
}

export function listenFast<K extends string>(options: FastServerOptions<K>, port: number, host = '127.0.0.1'): Promise<Listening> {
  const keepAliveMs = options.keepAliveTimeoutMs ?? 65_000;
  const fallback = createServer({ keepAliveTimeout: keepAliveMs, noDelay: true }, options.fallback);
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ noDelay: true, allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    new Connection(socket, options, fallback, keepAliveMs);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve({
        port: (server.address() as net.AddressInfo).port,
        host,
        close: () =>
          new Promise<void>((done) => {
            server.close(() => done());
            fallback.closeAllConnections();
            for (const s of sockets) s.destroy();
          }),
      });
    });
  });
}

class Connection {
  #state = State.Head;
  /** Bytes read and not yet parsed (Head), or read ahead while a request is answered (Busy). */
  #pending: Buffer | null = null;
  #head: Head | null = null;
  #body: Buffer[] = [];
  #bodyGot = 0;
  /** Body bytes of an over-limit request still to read and drop. */
  #discard = 0;
  #startedAt = 0;
  #controller: AbortOnce | null = null;

  constructor(
    readonly socket: net.Socket,
    readonly options: FastServerOptions,
    readonly fallback: import('node:http').Server,
    keepAliveMs: number,
  ) {
    socket.on('data', this.#onData);
    socket.on('end', this.#onEnd);
    socket.on('error', noop);
    socket.on('close', this.#onClose);
    socket.on('timeout', this.#onTimeout);
    socket.setTimeout(keepAliveMs);
  }

  #onData = (chunk: Buffer): void => {
    switch (this.#state) {
      case State.Head:
        this.#parse(this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk);
        return;
      case State.Body:
        this.#feedBody(chunk);
        return;
      case State.Drain: {
        const n = Math.min(this.#discard, chunk.length);
        this.#discard -= n;
        if (this.#discard > 0) return;
        this.#state = State.Head;
        this.#parse(chunk.subarray(n));
        return;
      }
      case State.Busy: {
        if (this.#discard > 0) {
          const n = Math.min(this.#discard, chunk.length);
          this.#discard -= n;
          if (n === chunk.length) return;
          chunk = chunk.subarray(n);
        }
        this.#pending = this.#pending ? Buffer.concat([this.#pending, chunk]) : chunk;
        if (this.#pending.length > MAX_AHEAD) this.socket.pause();
        return;
      }
      default:
        return;
    }
  };

  #parse(buf: Buffer): void {
    this.#pending = null;
    if (buf.length === 0) return;
    if (!this.#startedAt) this.#startedAt = Date.now();
    // Anything but a POST goes to node:http at once.
    const probe = Math.min(buf.length, POST.length);
    if (buf.compare(POST, 0, probe, 0, probe) !== 0) return this.#handoff(buf);
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      // A head with line ends other than CRLF never has a CRLFCRLF to wait for: node:http answers it.
      if (buf.length > MAX_HEAD || strayLineEnd(buf)) return this.#handoff(buf);
      if (Date.now() - this.#startedAt > (this.options.requestTimeoutMs ?? 60_000)) return this.#timeoutAnswer();
      this.#pending = buf;
      return;
    }
    const head = end <= MAX_HEAD ? parseHead(buf.toString('latin1', 0, end), this.options.routes) : null;
    if (!head) return this.#handoff(buf);
    this.#head = head;
    const rest = buf.subarray(end + 4);
    if (head.length > this.options.bodyLimit) {
      // Answer 413 without reading the body; drop it as it arrives, so the connection stays usable.
      this.#discard = head.length;
      this.#state = State.Busy;
      this.#dispatch(null);
      if (rest.length) this.#onData(rest);
      return;
    }
    this.#state = State.Body;
    this.#body = [];
    this.#bodyGot = 0;
    this.#feedBody(rest);
  }

  #feedBody(chunk: Buffer): void {
    const need = this.#head!.length - this.#bodyGot;
    if (chunk.length > 0 && need > 0) {
      const take = chunk.length <= need ? chunk : chunk.subarray(0, need);
      this.#body.push(take);
      this.#bodyGot += take.length;
    }
    if (this.#bodyGot < this.#head!.length) {
      if (Date.now() - this.#startedAt > (this.options.requestTimeoutMs ?? 60_000)) this.#timeoutAnswer();
      return;
    }
    const body = this.#body.length === 1 ? this.#body[0]! : Buffer.concat(this.#body, this.#bodyGot);
    this.#body = [];
    this.#state = State.Busy;
    if (chunk.length > need) this.#pending = chunk.subarray(Math.max(need, 0));
    if (this.#pending && this.#pending.length > MAX_AHEAD) this.socket.pause();
    this.#dispatch(body);
  }

  #dispatch(body: Buffer | null): void {
    const head = this.#head!;
    const controller = new AbortOnce();
    this.#controller = controller;
    const request: ServerRequest = {
      headers: new NodeHeaders(head.headers),
      signal: controller,
      search: head.search,
      remoteAddress: this.socket.remoteAddress,
      body: (limit) => (body === null || head.length > limit ? Promise.reject(new BodyTooLargeError(limit)) : Promise.resolve(body)),
    };
    this.options.handle(head.kind, request, head.path).then(
      (answer) => this.#answer(answer),
      (err: unknown) => {
        (this.options.onError ?? logError)(err);
        const e = (this.options.errorBody ?? plainError)(500, 'internal_error', 'The server failed on this request; it was logged. Retry, and report it if it persists.');
        this.#answer({ status: 500, headers: { 'content-type': e.contentType }, body: e.body });
      },
    );
  }

  #answer(answer: ServerAnswer): void {
    const socket = this.socket;
    const body = answer.body;
    if (socket.destroyed || this.#state === State.Closed) {
      if (body instanceof ReadableStream) void body.cancel().catch(noop);
      return;
    }
    if (answer.status === 499) {
      // The gateway gave up because the client went away.
      socket.destroy();
      return;
    }
    const keepAlive = this.#head!.keepAlive;
    let head = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Unknown'}\r\n`;
    const headers = answer.headers;
    for (const name in headers) {
      const value = headers[name]!;
      if (SERVER_SET.has(name) || BAD_FIELD_VALUE.test(value) || !TOKEN.test(name)) continue;
      head += `${name}: ${value}\r\n`;
    }
    head += `date: ${httpDate()}\r\n${keepAlive ? KEEP_ALIVE_HEADERS : 'connection: close\r\n'}`;
    if (!(body instanceof ReadableStream)) {
      const bytes = body === null ? EMPTY : typeof body === 'string' ? Buffer.from(body) : body;
      head += `content-length: ${bytes.byteLength}\r\n\r\n`;
      const out = Buffer.allocUnsafe(head.length + bytes.byteLength);
      out.write(head, 0, 'latin1');
      out.set(bytes, head.length);
      socket.write(out);
      this.#finish(keepAlive);
      return;
    }
    socket.write(`${head}transfer-encoding: chunked\r\n\r\n`, 'latin1');
    void this.#pump(body, keepAlive);
  }

  /** Copy a stream to the socket as it arrives, chunked, with backpressure; a client that leaves cancels it. */
  async #pump(body: ReadableStream<Uint8Array>, keepAlive: boolean): Promise<void> {
    const socket = this.socket;
    const reader = body.getReader();
    const onClose = () => void reader.cancel(new Error('client disconnected')).catch(noop);
    socket.once('close', onClose);
    try {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (socket.destroyed) return;
        if (value.byteLength === 0) continue;
        if (!socket.write(chunkFrame(value))) await drained(socket);
      }
      if (socket.destroyed) return;
      socket.write('0\r\n\r\n', 'latin1');
      this.#finish(keepAlive);
    } catch {
      // The upstream broke off mid-answer: cut the client's connection too, so it sees an incomplete answer.
      socket.destroy();
    } finally {
      socket.off('close', onClose);
    }
  }

  #finish(keepAlive: boolean): void {
    this.#controller = null;
    this.#head = null;
    this.#startedAt = 0;
    if (!keepAlive) {
      this.#state = State.Closed;
      this.socket.end();
      return;
    }
    this.#state = this.#discard > 0 ? State.Drain : State.Head;
    const pending = this.#pending;
    this.#pending = null;
    if (this.socket.isPaused()) this.socket.resume();
    if (pending) this.#parse(pending);
  }

  /** Give the connection, and the bytes read of its current request, to node:http. */
  #handoff(buf: Buffer): void {
    const socket = this.socket;
    this.#state = State.Closed;
    socket.off('data', this.#onData);
    socket.off('end', this.#onEnd);
    socket.off('error', noop);
    socket.off('close', this.#onClose);
    socket.off('timeout', this.#onTimeout);
    socket.setTimeout(0);
    socket.pause();
    socket.unshift(buf);
    this.fallback.emit('connection', socket);
    socket.resume();
  }

  #timeoutAnswer(): void {
    this.#state = State.Closed;
    const { contentType, body } = (this.options.errorBody ?? plainError)(408, 'request_timeout', 'The request did not arrive in time; send it again.');
    this.socket.end(`HTTP/1.1 408 Request Timeout\r\ncontent-type: ${contentType}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'latin1');
  }

  #onEnd = (): void => {
    // The client closed its side: as node:http does, it is gone — drop what it asked for, close ours.
    if (this.#state === State.Busy) this.socket.destroy();
    else this.socket.end();
    this.#state = State.Closed;
  };

  #onClose = (): void => {
    this.#state = State.Closed;
    this.#controller?.abort();
    this.#controller = null;
  };

  #onTimeout = (): void => {
    // Idle too long, or a request trickling in: close. A request being answered may take its time.
    if (this.#state !== State.Busy) this.socket.destroy();
  };
}

/** Headers this server writes itself. */
const SERVER_SET = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);
const EMPTY = new Uint8Array(0);

/** A CR or LF that is not half of a CRLF (a CR last in `buf` may be). */
function strayLineEnd(buf: Buffer): boolean {
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) if (i === 0 || buf[i - 1] !== 13) return true;
  for (let i = buf.indexOf(13); i >= 0 && i + 1 < buf.length; i = buf.indexOf(13, i + 1)) if (buf[i + 1] !== 10) return true;
  return false;
}

function chunkFrame(chunk: Uint8Array): Buffer {
  const size = chunk.byteLength.toString(16);
  const out = Buffer.allocUnsafe(size.length + 2 + chunk.byteLength + 2);
  out.write(size, 0, 'latin1');
  out[size.length] = 13;
  out[size.length + 1] = 10;
  out.set(chunk, size.length + 2);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

let dateSecond = 0;
let dateValue = '';
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/** The socket can take more, or is gone; either listener is removed when the other fires (a kept-alive socket lives on). */
export function drained(socket: { once(event: string, fn: () => void): unknown; off(event: string, fn: () => void): unknown }): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

function noop(): void {}
