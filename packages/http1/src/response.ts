/**
 * An HTTP/1.x response parser for the client (./client.ts): fed the socket's
 * chunks as they come, it reads the status line and headers, skips interim
 * (1xx) responses, and hands the body on as views of those same chunks —
 * framed by content-length, by chunked transfer coding (decoded; extensions
 * and trailers dropped) or by the connection's close. No I/O here.
 */
import { BAD_FIELD_VALUE, DIGITS, fieldName, HEX } from './grammar.ts';
import { Buffer } from 'node:buffer';

/** The response's status line and headers. */
export interface ResponseHead {
  status: number;
  /** 0 for HTTP/1.0, 1 for HTTP/1.1. */
  minor: number;
  headers: ResponseHeaders;
  /** The connection may carry another request once this body is read. */
  keepAlive: boolean;
}

export interface ResponseSink {
  /** The final (non-1xx) response's head. */
  onHead(head: ResponseHead): void;
  /** A piece of the body: a view of the chunk given to `execute`, valid as long as that chunk. */
  onBody(chunk: Buffer): void;
}

/** The upstream sent something that is not an HTTP/1.x response. */
export class MalformedResponseError extends Error {
  constructor(detail: string) {
    super(`malformed response: ${detail}`);
  }
}

/** Response headers: lower-case names, repeated ones joined with ", " (set-cookie included, as node:http's view did). */
export class ResponseHeaders {
  readonly #map = new Map<string, string>();

  get(name: string): string | null {
    return this.#map.get(name) ?? null;
  }

  forEach(callback: (value: string, name: string) => void): void {
    this.#map.forEach(callback);
  }

  /** Used by the parser. */
  append(name: string, value: string): void {
    const prev = this.#map.get(name);
    this.#map.set(name, prev === undefined ? value : `${prev}, ${value}`);
  }
}

export const MAX_HEAD_BYTES = 64 * 1024;
const MAX_LINE_BYTES = 4 * 1024;

const HEAD = 0;
const LENGTH = 1;
const CHUNK_SIZE = 2;
const CHUNK_DATA = 3;
const CHUNK_DATA_CR = 4;
const CHUNK_DATA_LF = 5;
const TRAILERS = 6;
const EOF = 7;
const DONE = 8;

const LF = 10;
const CR = 13;
// A status is three digits, the first 1-9: a 0xx one would pass for interim below and be skipped.
const STATUS_LINE = /^HTTP\/1\.([01]) ([1-9]\d\d)(?:[ \t].*)?$/;

export class Http1ResponseParser {
  #state = HEAD;
  #noBody = false;
  /** Bytes of the head (or of a chunk-size/trailer line) that arrived before its end. */
  #partial: Buffer | null = null;
  #line = '';
  #trailerBytes = 0;
  #remaining = 0;
  #keepAlive = false;
  #head: ResponseHead | null = null;

  constructor(private readonly sink: ResponseSink) {}

  /** Ready for the response to the next request; `noBody` for answers to HEAD. */
  reset(noBody = false): void {
    this.#state = HEAD;
    this.#noBody = noBody;
    this.#partial = null;
    this.#line = '';
    this.#trailerBytes = 0;
    this.#remaining = 0;
    this.#keepAlive = false;
    this.#head = null;
  }

  /** The final head has been read. */
  get headRead(): boolean {
    return this.#head !== null;
  }

  /** The whole response has been read. */
  get complete(): boolean {
    return this.#state === DONE;
  }

  /** The response, once complete, lets the connection be reused. */
  get keepAlive(): boolean {
    return this.#keepAlive;
  }

  /** The body ends only when the connection closes. */
  get untilClose(): boolean {
    return this.#state === EOF;
  }

  /**
   * Read a chunk from the socket. Returns how many of its bytes are left
   * over after the response was complete (bytes nobody asked for: the
   * connection must not be reused). Throws MalformedResponseError.
   */
  execute(chunk: Buffer): number {
    let buf = chunk;
    let i = 0;
    while (i < buf.length) {
      switch (this.#state) {
        case HEAD: {
          let from = i;
          let searchFrom = i;
          if (this.#partial) {
            searchFrom = Math.max(0, this.#partial.length - 3);
            buf = concat(this.#partial, buf.subarray(i));
            from = 0;
            i = 0;
            this.#partial = null;
          }
          const end = headEnd(buf, searchFrom);
          if (end < 0) {
            if (buf.length - from > MAX_HEAD_BYTES) throw new MalformedResponseError(`head larger than ${MAX_HEAD_BYTES} bytes`);
            this.#partial = from === 0 ? buf : buf.subarray(from);
            return 0;
          }
          if (end - from > MAX_HEAD_BYTES) throw new MalformedResponseError(`head larger than ${MAX_HEAD_BYTES} bytes`);
          i = end;
          this.#parseHead(buf.toString('latin1', from, end));
          break;
        }
        case LENGTH: {
          const n = Math.min(this.#remaining, buf.length - i);
          this.sink.onBody(n === buf.length ? buf : buf.subarray(i, i + n));
          i += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = DONE;
          break;
        }
        case CHUNK_SIZE:
        case TRAILERS: {
          const nl = buf.indexOf(LF, i);
          if (nl < 0) {
            this.#line += buf.toString('latin1', i);
            if (this.#line.length > MAX_LINE_BYTES) throw new MalformedResponseError('chunk-size or trailer line too long');
            return 0;
          }
          let line = this.#line + buf.toString('latin1', i, nl);
          this.#line = '';
          i = nl + 1;
          if (line.length > MAX_LINE_BYTES) throw new MalformedResponseError('chunk-size or trailer line too long');
          if (line.endsWith('\r')) line = line.slice(0, -1);
          if (this.#state === CHUNK_SIZE) this.#chunkSize(line);
          else if (line === '') this.#state = DONE;
          else if ((this.#trailerBytes += line.length) > MAX_HEAD_BYTES) throw new MalformedResponseError('trailers too large');
          break;
        }
        case CHUNK_DATA: {
          const n = Math.min(this.#remaining, buf.length - i);
          this.sink.onBody(n === buf.length ? buf : buf.subarray(i, i + n));
          i += n;
          this.#remaining -= n;
          if (this.#remaining === 0) this.#state = CHUNK_DATA_CR;
          break;
        }
        case CHUNK_DATA_CR: {
          const c = buf[i++];
          if (c === CR) this.#state = CHUNK_DATA_LF;
          else if (c === LF) this.#state = CHUNK_SIZE;
          else throw new MalformedResponseError('chunk not followed by CRLF');
          break;
        }
        case CHUNK_DATA_LF: {
          if (buf[i++] !== LF) throw new MalformedResponseError('chunk not followed by CRLF');
          this.#state = CHUNK_SIZE;
          break;
        }
        case EOF: {
          this.sink.onBody(i === 0 ? buf : buf.subarray(i));
          return 0;
        }
        default:
          // DONE: anything more was not asked for.
          return buf.length - i;
      }
    }
    return 0;
  }

  /**
   * The connection closed. A body read to the close is now complete;
   * anything else cut short throws.
   */
  finish(): void {
    if (this.#state === EOF) this.#state = DONE;
    else if (this.#state !== DONE) throw new MalformedResponseError('the upstream closed the connection mid-answer');
  }

  #parseHead(text: string): void {
    const lines = text.split('\n');
    const statusLine = stripCr(lines[0]!);
    const m = STATUS_LINE.exec(statusLine);
    if (!m) throw new MalformedResponseError(`bad status line ${JSON.stringify(statusLine.slice(0, 80))}`);
    const minor = m[1] === '1' ? 1 : 0;
    const status = Number(m[2]);
    const headers = new ResponseHeaders();
    let contentLength: string | undefined;
    let transferEncoding: string | undefined;
    let connection: string | undefined;
    // The head ends with an empty line: the last two entries of `lines` are empty.
    for (let k = 1; k < lines.length; k++) {
      const line = stripCr(lines[k]!);
      if (line === '') continue;
      const colon = line.indexOf(':');
      if (colon <= 0) throw new MalformedResponseError(`bad header line ${JSON.stringify(line.slice(0, 80))}`);
      const name = fieldName(line.slice(0, colon));
      if (name === null) throw new MalformedResponseError(`bad header name ${JSON.stringify(line.slice(0, colon).toLowerCase().slice(0, 80))}`);
      // Only SP and HTAB are whitespace to trim; a value with controls (a bare CR, NUL…) cannot be passed on
      // to a client (node:http refuses to write it): the answer is malformed, and its connection dropped.
      let from = colon + 1;
      let to = line.length;
      while (from < to && (line.charCodeAt(from) === 32 || line.charCodeAt(from) === 9)) from++;
      while (to > from && (line.charCodeAt(to - 1) === 32 || line.charCodeAt(to - 1) === 9)) to--;
      const value = line.slice(from, to);
      if (BAD_FIELD_VALUE.test(value)) throw new MalformedResponseError(`the value of header ${name} has control characters`);
      headers.append(name, value);
      if (name === 'content-length') contentLength = contentLength === undefined ? value : `${contentLength},${value}`;
      else if (name === 'transfer-encoding') transferEncoding = transferEncoding === undefined ? value : `${transferEncoding},${value}`;
      else if (name === 'connection') connection = connection === undefined ? value : `${connection},${value}`;
    }
    if (status < 200) {
      // Interim answers (100 Continue, 103 Early Hints) come before the real one.
      if (status === 101) throw new MalformedResponseError('101 Switching Protocols to a request that asked for no upgrade');
      return;
    }
    let keepAlive = minor === 1;
    if (connection !== undefined) {
      const tokens = connection.toLowerCase();
      if (hasToken(tokens, 'close')) keepAlive = false;
      else if (minor === 0 && hasToken(tokens, 'keep-alive')) keepAlive = true;
    }
    if (this.#noBody || status === 204 || status === 304) {
      this.#state = DONE;
    } else if (transferEncoding !== undefined) {
      const codings = transferEncoding.toLowerCase().split(',');
      if (codings[codings.length - 1]!.trim() === 'chunked') {
        this.#state = CHUNK_SIZE;
        // Both framings at once (RFC 9112 §6.3): chunked wins, and the connection is not trusted again.
        if (contentLength !== undefined) keepAlive = false;
      } else {
        this.#state = EOF;
        keepAlive = false;
      }
    } else if (contentLength !== undefined) {
      const values = contentLength.split(',');
      const first = values[0]!.trim();
      for (const v of values) if (v.trim() !== first || !DIGITS.test(first)) throw new MalformedResponseError(`bad content-length ${JSON.stringify(contentLength.slice(0, 80))}`);
      this.#remaining = Number(first);
      this.#state = this.#remaining === 0 ? DONE : LENGTH;
    } else {
      this.#state = EOF;
      keepAlive = false;
    }
    this.#keepAlive = keepAlive;
    this.#head = { status, minor, headers, keepAlive };
    this.sink.onHead(this.#head);
  }

  #chunkSize(line: string): void {
    const semi = line.indexOf(';');
    const size = (semi < 0 ? line : line.slice(0, semi)).trim();
    if (!HEX.test(size)) throw new MalformedResponseError(`bad chunk size ${JSON.stringify(line.slice(0, 40))}`);
    this.#remaining = parseInt(size, 16);
    this.#state = this.#remaining === 0 ? TRAILERS : CHUNK_DATA;
  }
}

/** Index just past the empty line that ends the head (CRLF CRLF, or bare LFs), or -1. */
function headEnd(buf: Buffer, from: number): number {
  let j = buf.indexOf(LF, from);
  while (j >= 0) {
    const next = buf[j + 1];
    if (next === LF) return j + 2;
    if (next === CR && buf[j + 2] === LF) return j + 3;
    j = buf.indexOf(LF, j + 1);
  }
  return -1;
}

function concat(a: Buffer, b: Buffer): Buffer {
  const out = Buffer.allocUnsafe(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

function stripCr(line: string): string {
  return line.endsWith('\r') ? line.slice(0, -1) : line;
}

function hasToken(list: string, token: string): boolean {
  if (!list.includes(token)) return false;
  for (const t of list.split(',')) if (t.trim() === token) return true;
  return false;
}
