/**
 * Fixtures for the tests of the Node HTTP/1.1 pieces, over raw sockets on
 * loopback: a fast server (./server.ts) with a fake application and a
 * node:http fallback that echo what they got, a client that sees the exact
 * bytes, and upstreams that read requests and write whatever bytes a test
 * gives them, for the client (./client.ts). Each test file
 * calls `afterEach(cleanUp)`.
 */
import { Buffer } from 'node:buffer';
import { spawn, type ChildProcess } from 'node:child_process';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net, { type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { expect, vi } from 'vitest';
import { listenFast, type FastServerOptions } from './server.ts';
import { Http1Client } from './client.ts';
import { BodyTooLargeError, type ClientRequest, type ClientResponse, type Listening, type ServerAnswer, type ServerRequest } from './types.ts';

const servers: Listening[] = [];
/** Client sockets to destroy after the test (the fixtures add theirs; a test may add its own). */
export const sockets: net.Socket[] = [];
const upstreams: Upstream[] = [];
const clients: Http1Client[] = [];
const children: ChildProcess[] = [];

/** Close every server, socket and client a test opened here, and restore mocks. */
export async function cleanUp(): Promise<void> {
  for (const child of children.splice(0)) child.kill();
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all([...servers.splice(0), ...upstreams.splice(0)].map((s) => s.close()));
  vi.restoreAllMocks();
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Polls `cond`; on the monotonic clock, so it works while Date is faked. */
export async function until(cond: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

// The fast server's side.

/** The routes the tests' server serves fast (an inference gateway's, as plain test data). */
export const ROUTES = { '/v1/chat/completions': 'chat', '/v1/completions': 'completions', '/v1/embeddings': 'embeddings' } as const;
export type Kind = (typeof ROUTES)[keyof typeof ROUTES];
export const LIMIT = 64;

export interface Call {
  kind: Kind;
  path: string;
  search: string;
  headers: Record<string, string>;
  request: ServerRequest;
}

/** The fake gateway: reads the body (413 over LIMIT) and echoes what it got. */
export async function echo(kind: Kind, request: ServerRequest, path: string): Promise<ServerAnswer> {
  let body: Uint8Array;
  try {
    body = await request.body(LIMIT);
  } catch (err) {
    if (err instanceof BodyTooLargeError) return tooLarge(err);
    throw err;
  }
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: `${kind} ${path}${request.search} ${Buffer.from(body).toString()}` };
}

/** node:http's side: echoes method, target, version, transfer-encoding and the body it read. */
export function fallbackEcho(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = `fallback ${req.method} ${req.url} ${req.httpVersion} te=${req.headers['transfer-encoding'] ?? '-'} body=${Buffer.concat(chunks).toString()}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

/** An error body in OpenAI's shape, as the inference gateway these fixtures stand for answers. */
export function openAiError(type: string, code: string, message: string): string {
  return JSON.stringify({ error: { message, type, param: null, code } });
}

/** The 413 the gateway answers. */
export function tooLarge(err: BodyTooLargeError): ServerAnswer {
  const message = `The request body is larger than this gateway's limit of ${err.limit} bytes. Send a smaller prompt, or raise --body-limit.`;
  return { status: 413, headers: { 'content-type': 'application/json' }, body: openAiError('invalid_request_error', 'request_too_large', message) };
}

/** The bodies of the answers the server makes itself, as the gateway shapes them. */
export function gatewayErrorBody(status: number, code: string, message: string): { contentType: string; body: string } {
  if (status >= 500) return { contentType: 'application/json', body: openAiError('server_error', code, 'The gateway failed on this request; it was logged. Retry, and report it if it persists.') };
  return { contentType: 'application/json', body: openAiError('invalid_request_error', code, message) };
}

export async function start(options: Partial<FastServerOptions<Kind>> = {}) {
  const calls: Call[] = [];
  const handle = options.handle ?? echo;
  const listening = await listenFast(
    {
      routes: ROUTES,
      bodyLimit: LIMIT,
      fallback: fallbackEcho,
      errorBody: gatewayErrorBody,
      ...options,
      handle: async (kind, request, path) => {
        const headers: Record<string, string> = {};
        request.headers.forEach((v, n) => (headers[n] = v));
        const call: Call = { kind, path, search: request.search, headers, request };
        calls.push(call);
        return handle(kind, request, path);
      },
    },
    0,
  );
  servers.push(listening);
  return { port: listening.port, calls, listening };
}

export interface Client {
  socket: net.Socket;
  /** Everything received so far, as latin1. */
  text(): string;
  /** Resolves once the received bytes satisfy `cond`. */
  until(cond: (text: string) => boolean, what: string, ms?: number): Promise<string>;
  /** Resolves when the server closed (end or reset); fails after `ms`. */
  closed(ms?: number): Promise<void>;
  isClosed(): boolean;
}

export async function connect(port: number): Promise<Client> {
  const socket = net.connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  sockets.push(socket);
  let received = '';
  let closed = false;
  socket.on('data', (d: Buffer) => (received += d.toString('latin1')));
  socket.on('error', () => undefined);
  const done = new Promise<void>((resolve) => {
    socket.on('end', () => ((closed = true), resolve()));
    socket.on('close', () => ((closed = true), resolve()));
  });
  await new Promise<void>((resolve) => socket.once('connect', resolve));
  return {
    socket,
    text: () => received,
    until: async (cond, what, ms = 2_000) => {
      const deadline = Date.now() + ms;
      while (!cond(received)) {
        if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; got ${JSON.stringify(received.slice(0, 400))}`);
        await sleep(2);
      }
      return received;
    },
    closed: (ms = 2_000) =>
      Promise.race([done, sleep(ms).then(() => Promise.reject(new Error(`the server did not close; got ${JSON.stringify(received.slice(0, 400))}`)))]),
    isClosed: () => closed,
  };
}

/** A request as a client would send it. */
export function post(path: string, body: string, headers: string[] = []): string {
  return `POST ${path} HTTP/1.1\r\nhost: gw\r\n${headers.map((h) => `${h}\r\n`).join('')}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** The fast server's answer, `body` as latin1 (one char a byte), `date` as `D` (see `dated`). */
export function answer(status: string, body: string, opts: { headers?: string[]; close?: boolean } = {}): string {
  const headers = opts.headers ?? ['content-type: text/plain'];
  return `HTTP/1.1 ${status}\r\n${headers.map((h) => `${h}\r\n`).join('')}date: D\r\nconnection: ${opts.close ? 'close' : 'keep-alive'}\r\ncontent-length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`;
}

/** Received bytes with each date header's value replaced by `D`, after checking it is an HTTP date. */
export function dated(text: string): string {
  return text.replace(/^date: (.*)\r$/gim, (_, value: string) => {
    expect(value).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    return 'date: D\r';
  });
}

export function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

// The upstream client's side.

export interface RawRequest {
  /** The request line and headers, through the empty line. */
  head: string;
  body: Buffer;
  /** Index of the connection it came on, in accept order. */
  conn: number;
  /** Its index among that connection's requests. */
  nth: number;
}

export interface Upstream {
  port: number;
  origin: string;
  sockets: Socket[];
  /** Raw chunks as read, per connection. */
  reads: Buffer[][];
  requests: RawRequest[];
  closed: number;
  close(): Promise<void>;
}

export type Answerer = (socket: Socket, req: RawRequest) => void;

/** An upstream that reads content-length requests off each connection and lets `answer` write raw bytes. */
export async function upstream(answer: Answerer): Promise<Upstream> {
  const up: Upstream = { port: 0, origin: '', sockets: [], reads: [], requests: [], closed: 0, close: async () => undefined };
  const server = net.createServer((socket) => {
    const conn = up.sockets.length;
    up.sockets.push(socket);
    up.reads.push([]);
    socket.on('error', () => undefined);
    socket.on('close', () => up.closed++);
    let buf = Buffer.alloc(0);
    let nth = 0;
    socket.on('data', (chunk: Buffer) => {
      up.reads[conn]!.push(chunk);
      buf = Buffer.concat([buf, chunk]);
      for (;;) {
        const end = buf.indexOf('\r\n\r\n');
        if (end < 0) return;
        const head = buf.toString('latin1', 0, end + 4);
        const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
        if (buf.length < end + 4 + length) return;
        const req = { head, body: buf.subarray(end + 4, end + 4 + length), conn, nth: nth++ };
        buf = buf.subarray(end + 4 + length);
        up.requests.push(req);
        answer(socket, req);
      }
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  up.port = (server.address() as AddressInfo).port;
  up.origin = `http://127.0.0.1:${up.port}`;
  up.close = () =>
    new Promise<void>((resolve) => {
      for (const s of up.sockets) s.destroy();
      server.close(() => resolve());
    });
  upstreams.push(up);
  return up;
}

/**
 * A port on 127.0.0.1 whose SYNs go unanswered, as a deleted pod's address: a listener in another process
 * that never accepts (its event loop is blocked), its accept queue (backlog 1) filled first, so the kernel
 * drops every SYN after.
 */
export async function silentPort(): Promise<number> {
  const code = `const s = require('node:net').createServer(); s.listen({ port: 0, host: '127.0.0.1', backlog: 1 }, () => { process.stdout.write(s.address().port + '\\n'); for (const end = Date.now() + 30000; Date.now() < end; ); });`;
  const child = spawn(process.execPath, ['-e', code], { stdio: ['ignore', 'pipe', 'inherit'] });
  children.push(child);
  const port = Number(await new Promise<string>((resolve) => child.stdout!.once('data', (d: Buffer) => resolve(d.toString()))));
  // Fill the accept queue: the kernel completes two handshakes (backlog + 1), then drops the SYNs that follow.
  let connected = 0;
  for (let i = 0; i < 2; i++) {
    const filler = net.connect(port, '127.0.0.1', () => connected++);
    filler.on('error', () => undefined);
    sockets.push(filler);
  }
  await until(() => connected === 2, 'the accept queue to fill');
  return port;
}

export function client(options?: ConstructorParameters<typeof Http1Client>[0]): Http1Client {
  const c = new Http1Client(options);
  clients.push(c);
  return c;
}

export function request(origin: string, init: Partial<ClientRequest> = {}): ClientRequest {
  return {
    origin,
    method: 'POST',
    path: '/v1/chat/completions',
    headers: {},
    body: new Uint8Array(0),
    signal: new AbortController().signal,
    headersTimeoutMs: 2_000,
    ...init,
  };
}

export const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

export async function text(res: ClientResponse): Promise<string> {
  expect(res.body).not.toBeNull();
  return Buffer.from(await res.body!.bytes()).toString('latin1');
}

export async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let out = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out += Buffer.from(value).toString('latin1');
  }
}

export async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

/** The server side of each connection the next fast server accepts. */
export function acceptedSockets(): Socket[] {
  const accepted: Socket[] = [];
  const createServer = net.createServer;
  vi.spyOn(net, 'createServer').mockImplementation(((...args: never[]) => {
    const server = (createServer as (...a: never[]) => net.Server)(...args);
    server.on('connection', (s: Socket) => accepted.push(s));
    return server;
  }) as typeof net.createServer);
  return accepted;
}
