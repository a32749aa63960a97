/**
 * One request and its answer, for the client (./client.ts): it settles the response promise when the head
 * arrives, then is the answer's body — read whole (`bytes()`) or streamed with
 * backpressure (`stream()`), pausing the socket while nobody reads — and it
 * handles the header timeout, the body's idle timeout, the cap on a body read
 * whole, and the client going away.
 */
import { Buffer } from 'node:buffer';
import { ClientBodyError, ClientError, type AbortSignalLike, type ClientBody, type ClientRequest, type ClientResponse } from './types.ts';
import type { ResponseHead } from './response.ts';
import type { Deadlines, HasDeadline } from './deadlines.ts';

/** Body bytes held for a reader that has not yet asked for them before the socket is paused. */
const UNCLAIMED_LIMIT = 256 * 1024;

/** What an exchange needs of the connection carrying it. */
export interface ExchangeConnection {
  /** The connection was made: the request was handed to the server. */
  readonly connected: boolean;
  pause(): void;
  resume(): void;
  /** Drop the socket without settling anything (the exchange already did). */
  kill(): void;
}

const WAITING = 0;
const BODY = 1;
const DONE = 2;
const FAILED = 3;

/** One request and its answer: settles the response promise, then is the answer's body. */
export class Exchange implements ClientBody, HasDeadline {
  readonly response: Promise<ClientResponse>;
  #resolve!: (res: ClientResponse) => void;
  #reject!: (err: Error) => void;
  #state = WAITING;
  /** When the head is due (Date.now() ms); `deadlines` fails the exchange then. */
  readonly deadline: number;
  readonly #headTimeoutMs: number;
  readonly #signal: AbortSignalLike;
  readonly #onAbort = () => this.#aborted();
  readonly #headRequest: boolean;
  #conn: ExchangeConnection | null;
  /** Body chunks not yet handed to a stream: before bytes()/stream(), or for bytes(). */
  #chunks: Buffer[] = [];
  #size = 0;
  #error: Error | undefined;
  #claimed = false;
  #waiter: { resolve(b: Uint8Array): void; reject(err: Error): void } | undefined;
  #controller: ReadableStreamDefaultController<Uint8Array> | undefined;
  #onEnd: (() => void) | undefined;
  #onFirst: (() => void) | undefined;
  /** Body chunks seen, and the count when the idle timer was armed. */
  #seen = 0;
  #seenAtArm = 0;
  #idleTimer: ReturnType<typeof setTimeout> | undefined;
  /** This exchange paused the socket (a reader not keeping up): no byte arriving is then not the upstream's fault. */
  #paused = false;
  /** The client's Deadlines list's links (./deadlines.ts). */
  deadlinePrev: HasDeadline | null = null;
  deadlineNext: HasDeadline | null = null;

  constructor(
    conn: ExchangeConnection,
    req: ClientRequest,
    private readonly maxBuffered: number,
    private readonly bodyIdleMs: number,
    private readonly deadlines: Deadlines<Exchange>,
  ) {
    this.#conn = conn;
    this.#headRequest = req.method === 'HEAD';
    this.response = new Promise<ClientResponse>((resolve, reject) => {
      this.#resolve = resolve;
      this.#reject = reject;
    });
    this.#signal = req.signal;
    this.#signal.addEventListener('abort', this.#onAbort, { once: true });
    this.#headTimeoutMs = req.headersTimeoutMs;
    this.deadline = Date.now() + req.headersTimeoutMs;
    deadlines.add(this);
  }

  onHead(head: ResponseHead): void {
    if (this.#state !== WAITING) return;
    this.deadlines.delete(this);
    // An answer to HEAD has no body even when it says how long one would be.
    const noBody = head.status === 204 || head.status === 304 || this.#headRequest;
    this.#state = BODY;
    if (noBody) this.#signal.removeEventListener('abort', this.#onAbort);
    this.#resolve({ status: head.status, headers: head.headers, body: noBody ? null : this });
  }

  onBody(chunk: Buffer): void {
    if (this.#state !== BODY) return;
    this.#seen++;
    const controller = this.#controller;
    if (controller) {
      this.#enqueue(controller, chunk);
      return;
    }
    this.#chunks.push(chunk);
    this.#size += chunk.byteLength;
    if (this.#size > this.maxBuffered) {
      // Held whole in memory: past the cap, give up on it and on its connection.
      const conn = this.#conn;
      this.bodyFailed(new ClientBodyError('too_large', `the upstream's answer is larger than ${this.maxBuffered} bytes, the most this gateway reads whole`));
      conn?.kill();
      return;
    }
    if (!this.#claimed && this.#size > UNCLAIMED_LIMIT) this.#pause();
  }

  /**
   * The body is not complete after the bytes read so far: from now on, no
   * byte for `bodyIdleMs` fails it. Armed lazily, so an answer read in one
   * go (the common case) costs no timer.
   */
  awaitMore(): void {
    if (this.#idleTimer !== undefined || this.#state !== BODY) return;
    this.#seenAtArm = this.#seen;
    this.#idleTimer = setTimeout(this.#idleCheck, this.bodyIdleMs);
  }

  readonly #idleCheck = (): void => {
    this.#idleTimer = undefined;
    if (this.#state !== BODY) return;
    if (this.#seen !== this.#seenAtArm || this.#paused) {
      this.awaitMore();
      return;
    }
    const conn = this.#conn;
    this.bodyFailed(new ClientBodyError('idle', `the upstream sent no byte of its answer for ${this.bodyIdleMs} ms`));
    conn?.kill();
  };

  #pause(): void {
    this.#paused = true;
    this.#conn?.pause();
  }

  #resume(): void {
    this.#paused = false;
    this.#conn?.resume();
  }

  #enqueue(controller: ReadableStreamDefaultController<Uint8Array>, chunk: Buffer): void {
    if (this.#onFirst) {
      const first = this.#onFirst;
      this.#onFirst = undefined;
      first();
    }
    controller.enqueue(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    if ((controller.desiredSize ?? 1) <= 0) this.#pause();
  }

  failHead(err: Error): void {
    if (this.#state !== WAITING) return;
    this.#state = FAILED;
    this.deadlines.delete(this);
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.#conn = null;
    this.#reject(err);
  }

  bodyDone(): void {
    if (this.#state !== BODY) return;
    this.#state = DONE;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#conn = null;
    this.#signal.removeEventListener('abort', this.#onAbort);
    if (this.#controller) {
      this.#end();
      this.#controller.close();
    } else if (this.#waiter) {
      this.#waiter.resolve(this.#joined());
      this.#waiter = undefined;
    }
  }

  bodyFailed(err: Error): void {
    if (this.#state !== BODY) return;
    this.#state = FAILED;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#error = err;
    this.#conn = null;
    this.#chunks = [];
    this.#signal.removeEventListener('abort', this.#onAbort);
    if (this.#controller) {
      this.#end();
      this.#controller.error(err);
    } else if (this.#waiter) {
      this.#waiter.reject(err);
      this.#waiter = undefined;
    }
  }

  /** The head did not arrive by the deadline (called by `deadlines`). */
  timedOut(): void {
    if (this.#state !== WAITING) return;
    const conn = this.#conn;
    // Never connected (a connect timeout longer than the head timeout): nothing was written.
    const written = conn?.connected ?? true;
    this.failHead(new ClientError('timeout', written ? `no response within ${this.#headTimeoutMs} ms` : `no connection within ${this.#headTimeoutMs} ms`, written));
    conn?.kill();
  }

  #aborted(): void {
    const conn = this.#conn;
    if (this.#state === WAITING) this.failHead(new ClientError('aborted', 'the client went away'));
    else this.bodyFailed(new Error('the client went away'));
    conn?.kill();
  }

  #end(): void {
    const onEnd = this.#onEnd;
    this.#onEnd = undefined;
    onEnd?.();
  }

  #joined(): Uint8Array {
    const chunks = this.#chunks;
    this.#chunks = [];
    if (chunks.length === 1) return chunks[0]!;
    return Buffer.concat(chunks, this.#size);
  }

  #claim(): void {
    if (this.#claimed) throw new TypeError('the upstream body was already read');
    this.#claimed = true;
  }

  bytes(): Promise<Uint8Array> {
    try {
      this.#claim();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#state === DONE) return Promise.resolve(this.#joined());
    if (this.#state === FAILED) return Promise.reject(this.#error ?? new Error('the upstream body was cancelled'));
    this.#resume();
    return new Promise((resolve, reject) => {
      this.#waiter = { resolve, reject };
    });
  }

  stream(onEnd: () => void, onFirst?: () => void): ReadableStream<Uint8Array> {
    this.#claim();
    this.#onEnd = onEnd;
    this.#onFirst = onFirst;
    return new ReadableStream<Uint8Array>(
      {
        start: (controller) => {
          const pending = this.#chunks;
          this.#chunks = [];
          this.#size = 0;
          if (this.#state === FAILED) {
            this.#end();
            controller.error(this.#error ?? new Error('the upstream body was cancelled'));
            return;
          }
          for (const chunk of pending) this.#enqueue(controller, chunk);
          if (this.#state === DONE) {
            this.#end();
            controller.close();
            return;
          }
          this.#controller = controller;
          if ((controller.desiredSize ?? 1) > 0) this.#resume();
        },
        pull: () => {
          this.#resume();
        },
        cancel: () => {
          this.cancel();
        },
      },
      { highWaterMark: 16 },
    );
  }

  cancel(): void {
    this.#chunks = [];
    if (this.#state !== BODY) {
      this.#end();
      return;
    }
    const conn = this.#conn;
    this.#state = FAILED;
    if (this.#idleTimer !== undefined) clearTimeout(this.#idleTimer);
    this.#error = new Error('the upstream body was cancelled');
    this.#conn = null;
    this.#signal.removeEventListener('abort', this.#onAbort);
    this.#end();
    // Unread bytes are still on their way: the socket can't carry another answer.
    conn?.kill();
  }
}
