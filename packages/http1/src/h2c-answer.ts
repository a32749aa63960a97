/**
 * What an h2c answer hands its caller (./h2c-client.ts): its header block
 * without pseudo-headers, and its body — read whole, streamed with
 * back-pressure, or dropped — failing as the HTTP/1.1 client's bodies do.
 */
import { Buffer } from 'node:buffer';
import http2, { type ClientHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import { ClientBodyError, type ClientBody, type ClientRequest, type HeaderView } from './types.ts';

const { NGHTTP2_CANCEL, NGHTTP2_NO_ERROR } = http2.constants;

export type Limits = { maxBuffered: number; bodyIdleMs: number };
/** A body's watch: `touched` at each chunk (re-arms the idle limit), `hold` while the reader applies back-pressure, `end` when it finished. */
type Watch = { touched(): void; hold(): void; end(): void };


/** The answer's body: read whole, streamed with back-pressure, or dropped. */
export class StreamBody implements ClientBody {
  #taken = false;
  /** node:http2 may end (or close) a stream whose body is empty or reset before anyone reads it: remembered here. */
  #ended = false;
  #closed = false;
  constructor(
    private readonly h2: ClientHttp2Stream,
    private readonly req: ClientRequest,
    private readonly limits: Limits,
  ) {
    h2.pause();
    h2.once('end', () => (this.#ended = true));
    h2.once('close', () => (this.#closed = true));
  }

  /** The body ended or broke off before it was read: its outcome, at once. */
  #over(): { error?: ClientBodyError } | undefined {
    if (this.#ended) return cutOff(this.h2) ? { error: cutOffError(this.h2) } : {};
    if (this.#closed) return { error: cutOffError(this.h2) };
    return undefined;
  }

  #take(): void {
    if (this.#taken) throw new Error('the body was already read');
    this.#taken = true;
  }

  bytes(): Promise<Uint8Array> {
    this.#take();
    const { h2: stream, limits } = this;
    const over = this.#over();
    if (over) return over.error ? Promise.reject(over.error) : Promise.resolve(new Uint8Array(0));
    return new Promise((resolve, reject) => {
      const chunks: Buffer[] = [];
      let size = 0;
      const watch = this.#watch((err) => reject(err));
      stream.on('data', (chunk: Buffer) => {
        watch.touched();
        size += chunk.byteLength;
        if (size > limits.maxBuffered) {
          watch.end();
          stream.close(NGHTTP2_CANCEL);
          reject(new ClientBodyError('too_large', `the upstream's answer is larger than ${limits.maxBuffered} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      stream.once('end', () => {
        watch.end();
        if (cutOff(stream)) reject(cutOffError(stream));
        else resolve(Buffer.concat(chunks, size));
      });
      stream.resume();
    });
  }

  stream(onEnd: () => void, onFirst?: () => void): ReadableStream<Uint8Array> {
    this.#take();
    const source = this.h2;
    const over = this.#over();
    if (over) {
      onEnd();
      return over.error ? new ReadableStream({ start: (c) => c.error(over.error) }) : new ReadableStream({ start: (c) => c.close() });
    }
    let ended = false;
    const end = () => {
      if (ended) return;
      ended = true;
      onEnd();
    };
    let first = onFirst;
    let watch: Watch | undefined;
    // Once cancelled or failed, what the stream still emits is dropped.
    let open = true;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          watch = this.#watch((err) => {
            if (!open) return;
            open = false;
            end();
            controller.error(err);
          });
          source.on('data', (chunk: Uint8Array) => {
            if (!open) return;
            watch!.touched();
            if (first) {
              first();
              first = undefined;
            }
            controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
            if ((controller.desiredSize ?? 1) <= 0) {
              // Back-pressure: the reader is slow, not the server — no idle limit until it pulls again.
              source.pause();
              watch!.hold();
            }
          });
          source.once('end', () => {
            watch!.end();
            if (!open) return;
            open = false;
            end();
            if (cutOff(source)) controller.error(cutOffError(source));
            else controller.close();
          });
        },
        pull: () => {
          if (!source.isPaused()) return;
          watch?.touched();
          source.resume();
        },
        cancel: () => {
          open = false;
          watch?.end();
          end();
          if (!source.destroyed) source.close(NGHTTP2_CANCEL);
        },
      },
      { highWaterMark: 4 },
    );
  }

  cancel(): void {
    if (this.#taken) return;
    this.#taken = true;
    if (!this.h2.destroyed) this.h2.close(NGHTTP2_CANCEL);
  }

  /** Fail the body when it breaks off, stalls past the idle limit, or its caller's client goes away. */
  #watch(fail: (err: Error) => void): Watch {
    const { h2: stream, req } = this;
    const idleMs = req.bodyIdleTimeoutMs ?? this.limits.bodyIdleMs;
    let done = false;
    let timer: ReturnType<typeof setTimeout> | undefined;
    const arm = () => {
      clearTimeout(timer);
      if (done) return;
      timer = setTimeout(() => stop(new ClientBodyError('idle', `no byte of the upstream's answer for ${idleMs} ms`)), idleMs);
    };
    const stop = (err: Error) => {
      if (done) return;
      end();
      if (!stream.destroyed) stream.close(NGHTTP2_CANCEL);
      fail(err);
    };
    const onAbort = () => stop(new Error('the client went away'));
    const onClose = () => stop(cutOffError(stream));
    const end = () => {
      done = true;
      clearTimeout(timer);
      req.signal.removeEventListener('abort', onAbort);
      stream.off('close', onClose);
    };
    req.signal.addEventListener('abort', onAbort, { once: true });
    // 'close' after 'end' is the normal finish (end() has run by then); before it, the body broke off.
    stream.on('close', onClose);
    stream.on('error', () => undefined); // reported through 'close'
    arm();
    return { touched: arm, hold: () => clearTimeout(timer), end };
  }
}

/**
 * node:http2 ends the readable side of a stream the server reset (or whose
 * session died) before it reports why: an end with an error code is a body
 * broken off, not a finished one.
 */
function cutOff(stream: ClientHttp2Stream): boolean {
  return stream.aborted || (stream.rstCode !== undefined && stream.rstCode !== NGHTTP2_NO_ERROR);
}

function cutOffError(stream: ClientHttp2Stream): ClientBodyError {
  return new ClientBodyError('broken', `the upstream reset the stream mid-answer (code ${stream.rstCode ?? 'none'})`);
}

/** An answer's header block, pseudo-headers left out. */
export class H2Headers implements HeaderView {
  constructor(private readonly raw: IncomingHttpHeaders) {}

  get(name: string): string | null {
    const v = this.raw[name];
    return v === undefined || name.startsWith(':') ? null : Array.isArray(v) ? v.join(', ') : v;
  }

  forEach(callback: (value: string, name: string) => void): void {
    for (const name in this.raw) {
      if (name.startsWith(':')) continue;
      const v = this.raw[name];
      if (v !== undefined) callback(Array.isArray(v) ? v.join(', ') : v, name);
    }
  }
}
