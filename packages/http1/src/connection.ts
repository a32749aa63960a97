/**
 * One connection of the fast server (./server.ts): reads request heads and
 * bodies, hands each hot request to the handler, writes its answer, and hands
 * the connection to node:http at the first byte sequence it does not serve.
 */
import type net from 'node:net';
import { STATUS_CODES, type Server } from 'node:http';
import { AbortOnce } from './abort-once.ts';
import type { ErrorBody } from './fallback.ts';
import { BAD_FIELD_VALUE, fieldName } from './grammar.ts';
import { NodeHeaders } from './headers.ts';
import { parseHead, type Head } from './request-head.ts';
import type { FastServerOptions } from './server.ts';
import { BodyTooLargeError, type ServerAnswer, type ServerRequest } from './types.ts';
import { chunkFrame, drainedWithin, httpDate, strayLineEnd } from './wire.ts';
import { batchWrite, flushNow } from './write-batch.ts';

/** The server's bounds, resolved from its options. */
export interface Limits {
  headersMs: number;
  requestMs: number;
  /** Most time between two writes that complete while the client is not reading (nginx's `send_timeout`). */
  sendMs: number;
  maxDrain: number;
  errorBody: ErrorBody;
}

const MAX_HEAD = 16 * 1024;
/** Bytes a client may send ahead (pipelining) while its request is answered, before reading pauses. */
const MAX_AHEAD = 64 * 1024;
/** How long a connection we close is still read (and dropped) so that the client reads our last answer before a reset. */
const LINGER_MS = 2_000;
const CRLFCRLF = Buffer.from('\r\n\r\n');
const POST = Buffer.from('POST ');
const KEEP_ALIVE_HEADERS = 'connection: keep-alive\r\n';

const logError = (err: unknown) => console.error(JSON.stringify({ level: 'error', msg: 'unexpected error', error: String((err as Error)?.stack ?? err) }));

const enum State {
  Head,
  Body,
  Busy,
  /** Answered an over-limit request; its body is still arriving and is dropped before the next head. */
  Drain,
  /**
   * Answered, but the client has not read the answers (the socket wants 'drain'): the next request is not
   * read or parsed until it does, as node:http pauses such a socket — else pipelined requests from a client
   * that never reads would pile their answers up in memory without bound.
   */
  Sending,
  Closed,
}

export class Connection {
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
  /** The server is shutting down: the answer under way is the last. */
  #draining = false;

  constructor(
    readonly socket: net.Socket,
    readonly options: FastServerOptions,
    readonly fallback: Server,
    keepAliveMs: number,
    readonly limits: Limits,
    readonly live: Set<Connection>,
  ) {
    live.add(this);
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
        // The refused request is over: the next one's head timer starts at its own first byte.
        this.#startedAt = 0;
        this.#state = State.Head;
        this.#parse(chunk.subarray(n));
        return;
      }
      case State.Busy:
      case State.Sending: {
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
    if (this.socket.writableNeedDrain) return this.#holdBack(buf);
    if (!this.#startedAt) this.#startedAt = Date.now();
    // Anything but a POST goes to node:http at once.
    const probe = Math.min(buf.length, POST.length);
    if (buf.compare(POST, 0, probe, 0, probe) !== 0) return this.#handoff(buf);
    const end = buf.indexOf(CRLFCRLF);
    if (end < 0) {
      // A head with line ends other than CRLF never has a CRLFCRLF to wait for: node:http answers it.
      if (buf.length > MAX_HEAD || strayLineEnd(buf)) return this.#handoff(buf);
      if (Date.now() - this.#startedAt > this.limits.headersMs) return this.#timeoutAnswer();
      this.#pending = buf;
      return;
    }
    const head = end <= MAX_HEAD ? parseHead(buf.toString('latin1', 0, end), this.options.routes) : null;
    // No Host: node:http answers 400 (RFC 9112 §3.2).
    if (!head || head.headers.host === undefined) return this.#handoff(buf);
    this.#head = head;
    const rest = buf.subarray(end + 4);
    if (head.length > this.options.bodyLimit) {
      // Answer 413 without reading the body; drop it as it arrives, so the connection stays usable —
      // unless what is left to drop is large: then the answer closes the connection.
      if (head.length - rest.length > this.limits.maxDrain) head.keepAlive = false;
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
      if (Date.now() - this.#startedAt > this.limits.requestMs) this.#timeoutAnswer();
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
        const e = this.limits.errorBody(500, 'internal_error', 'The server failed on this request; it was logged. Retry, and report it if it persists.');
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
    const keepAlive = this.#head!.keepAlive && !this.#draining;
    let head = `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status] ?? 'Unknown'}\r\n`;
    const headers = answer.headers;
    for (const name in headers) {
      const value = headers[name]!;
      if (SERVER_SET.has(name) || BAD_FIELD_VALUE.test(value) || fieldName(name) === null) continue;
      head += `${name}: ${value}\r\n`;
    }
    head += `date: ${httpDate()}\r\n${keepAlive ? KEEP_ALIVE_HEADERS : 'connection: close\r\n'}`;
    if (answer.status === 204 || answer.status === 304) {
      // No content, and no content-length (RFC 9110 §8.6, §15.3.5, §15.4.5).
      if (body instanceof ReadableStream) void body.cancel().catch(noop);
      batchWrite(socket, `${head}\r\n`, 'latin1');
      this.#finish(keepAlive);
      return;
    }
    if (!(body instanceof ReadableStream)) {
      const bytes = body === null ? EMPTY : typeof body === 'string' ? Buffer.from(body) : body;
      head += `content-length: ${bytes.byteLength}\r\n\r\n`;
      const out = Buffer.allocUnsafe(head.length + bytes.byteLength);
      out.write(head, 0, 'latin1');
      out.set(bytes, head.length);
      batchWrite(socket, out);
      this.#finish(keepAlive);
      return;
    }
    batchWrite(socket, `${head}transfer-encoding: chunked\r\n\r\n`, 'latin1');
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
        // A client that stops reading is cut after the send timeout: the reader is then cancelled (onClose).
        if (!batchWrite(socket, chunkFrame(value))) await drainedWithin(socket, this.limits.sendMs);
      }
      if (socket.destroyed) return;
      batchWrite(socket, '0\r\n\r\n', 'latin1');
      this.#finish(keepAlive);
    } catch {
      // The upstream broke off mid-answer: cut the client's connection too, so it sees an incomplete answer
      // (after what it was sent so far).
      flushNow(socket);
      socket.destroy();
    } finally {
      socket.off('close', onClose);
    }
  }

  #finish(keepAlive: boolean): void {
    this.#controller = null;
    this.#head = null;
    if (!keepAlive) {
      this.#state = State.Closed;
      this.#linger();
      return;
    }
    // A body still being dropped stays under the request timeout; the next request starts its own.
    if (this.#discard === 0) this.#startedAt = 0;
    this.#state = this.#discard > 0 ? State.Drain : State.Head;
    const pending = this.#pending;
    this.#pending = null;
    if (this.socket.isPaused()) this.socket.resume();
    if (pending) this.#parse(pending);
  }

  /** The client has not read its answers: keep the next request's bytes, read no more until it does (State.Sending), within the send timeout. */
  #holdBack(buf: Buffer): void {
    this.#state = State.Sending;
    this.#pending = buf;
    this.socket.pause();
    void drainedWithin(this.socket, this.limits.sendMs).then(() => {
      if (this.#state !== State.Sending) return;
      this.#state = State.Head;
      const pending = this.#pending;
      this.#pending = null;
      this.socket.resume();
      if (pending) this.#parse(pending);
    });
  }

  /** Give the connection, and the bytes read of its current request, to node:http. */
  #handoff(buf: Buffer): void {
    const socket = this.socket;
    // An answer held for this turn's batch goes first: node:http may destroy the socket before the batch leaves.
    flushNow(socket);
    this.#state = State.Closed;
    this.live.delete(this);
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

  /**
   * The server is shutting down: an idle connection closes now; one with a
   * request under way answers it with `connection: close`, then closes.
   */
  drain(): void {
    this.#draining = true;
    if (this.#state === State.Head && !this.#startedAt && !this.#pending) {
      this.#state = State.Closed;
      this.#linger();
    }
  }

  /** The sweep: a head or body that has taken too long is answered 408 even when no byte arrives. */
  check(now: number): void {
    const state = this.#state;
    if (!this.#startedAt || state === State.Busy || state === State.Sending || state === State.Closed) return;
    const took = now - this.#startedAt;
    if (state === State.Head ? took <= this.limits.headersMs : took <= this.limits.requestMs) return;
    if (state === State.Drain) {
      // The refused request was answered (413): no second answer to it (RFC 9112 §9.3), only the close.
      this.#state = State.Closed;
      this.#linger();
      return;
    }
    this.#timeoutAnswer();
  }

  #timeoutAnswer(): void {
    this.#state = State.Closed;
    const { contentType, body } = this.limits.errorBody(408, 'request_timeout', 'The request did not arrive in time; send it again.');
    this.socket.write(`HTTP/1.1 408 Request Timeout\r\ncontent-type: ${contentType}\r\nconnection: close\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`, 'latin1');
    this.#linger();
  }

  /**
   * Close our side after the last answer, then read and drop what the client
   * still sends for a bounded time before the reset (a close with unread
   * bytes would reset the connection and could destroy the answer in flight).
   */
  #linger(): void {
    this.live.delete(this);
    const socket = this.socket;
    socket.end();
    setTimeout(() => socket.destroy(), LINGER_MS).unref();
  }

  #onEnd = (): void => {
    // The client closed its side: as node:http does, it is gone — drop what it asked for, close ours
    // (after the answers already given, which may still be held for this turn's batch).
    if (this.#state === State.Busy) {
      flushNow(this.socket);
      this.socket.destroy();
    } else this.socket.end();
    this.#state = State.Closed;
    this.live.delete(this);
  };

  #onClose = (): void => {
    this.#state = State.Closed;
    this.#controller?.abort();
    this.#controller = null;
  };

  #onTimeout = (): void => {
    // Idle too long, or a request trickling in: close. A request being answered may take its time, and
    // answers the client is slow to read are under the send timeout.
    if (this.#state !== State.Busy && this.#state !== State.Sending) this.socket.destroy();
  };
}

/** Headers this server writes itself. */
const SERVER_SET = new Set(['content-length', 'transfer-encoding', 'connection', 'keep-alive', 'date']);
const EMPTY = new Uint8Array(0);

function noop(): void {}
