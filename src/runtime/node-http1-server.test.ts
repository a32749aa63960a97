/**
 * The fast HTTP/1.1 front door, driven by raw sockets on loopback: the exact
 * bytes it answers, keep-alive and pipelining, requests cut into any pieces,
 * 413/408/499, streamed answers with backpressure and client disconnects, and
 * the handoff of everything else, bytes intact, to node:http.
 */
import { Buffer } from 'node:buffer';
import type { IncomingMessage, ServerResponse } from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { ApiKind } from '../api/openai.ts';
import { GatewayError } from '../api/errors.ts';
import { errorAnswer, type Answer } from '../gateway/answer.ts';
import type { InboundRequest } from '../gateway/inbound.ts';
import { listenFast, parseHead, type FastServerOptions } from './node-http1-server.ts';
import type { Listening } from './node.ts';

const ROUTES: Record<string, ApiKind> = {
  '/v1/chat/completions': 'chat',
  '/v1/completions': 'completions',
  '/v1/embeddings': 'embeddings',
};
const LIMIT = 64;

const servers: Listening[] = [];
const sockets: net.Socket[] = [];

afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  await Promise.all(servers.splice(0).map((s) => s.close()));
  vi.restoreAllMocks();
});

interface Call {
  kind: ApiKind;
  path: string;
  search: string;
  headers: Record<string, string>;
  request: InboundRequest;
}

/** The fake gateway: reads the body (413 over LIMIT) and echoes what it got. */
async function echo(kind: ApiKind, request: InboundRequest, path: string): Promise<Answer> {
  let body: Uint8Array;
  try {
    body = await request.body(LIMIT);
  } catch (err) {
    if (err instanceof GatewayError) return errorAnswer(err);
    throw err;
  }
  return { status: 200, headers: { 'content-type': 'text/plain' }, body: `${kind} ${path}${request.search} ${Buffer.from(body).toString()}` };
}

/** node:http's side: echoes method, target, version, transfer-encoding and the body it read. */
function fallbackEcho(req: IncomingMessage, res: ServerResponse): void {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const body = `fallback ${req.method} ${req.url} ${req.httpVersion} te=${req.headers['transfer-encoding'] ?? '-'} body=${Buffer.concat(chunks).toString()}`;
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body) });
    res.end(body);
  });
}

async function start(options: Partial<FastServerOptions> = {}) {
  const calls: Call[] = [];
  const handle = options.handle ?? echo;
  const listening = await listenFast(
    {
      routes: ROUTES,
      bodyLimit: LIMIT,
      fallback: fallbackEcho,
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
  return { port: listening.port, calls };
}

interface Client {
  socket: net.Socket;
  /** Everything received so far, as latin1. */
  text(): string;
  /** Resolves once the received bytes satisfy `cond`. */
  until(cond: (text: string) => boolean, what: string, ms?: number): Promise<string>;
  /** Resolves when the server closed (end or reset); fails after `ms`. */
  closed(ms?: number): Promise<void>;
  isClosed(): boolean;
}

async function connect(port: number): Promise<Client> {
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(cond: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(2);
  }
}

/** A request as a client would send it. */
function post(path: string, body: string, headers: string[] = []): string {
  return `POST ${path} HTTP/1.1\r\nhost: gw\r\n${headers.map((h) => `${h}\r\n`).join('')}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;
}

/** The fast server's answer, `body` as latin1 (one char a byte), `date` as `D` (see `dated`). */
function answer(status: string, body: string, opts: { headers?: string[]; close?: boolean } = {}): string {
  const headers = opts.headers ?? ['content-type: text/plain'];
  return `HTTP/1.1 ${status}\r\n${headers.map((h) => `${h}\r\n`).join('')}date: D\r\nconnection: ${opts.close ? 'close' : 'keep-alive'}\r\ncontent-length: ${Buffer.byteLength(body, 'latin1')}\r\n\r\n${body}`;
}

/** Received bytes with each date header's value replaced by `D`, after checking it is an HTTP date. */
function dated(text: string): string {
  return text.replace(/^date: (.*)\r$/gim, (_, value: string) => {
    expect(value).toMatch(/^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/);
    return 'date: D\r';
  });
}

function count(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

describe('parseHead', () => {
  it('reads a plain hot request: kind, path, search, lower-case headers, length, keep-alive', () => {
    const head = parseHead('POST /v1/chat/completions?api-version=2 HTTP/1.1\r\nHost: gw\r\nContent-Length: 12\r\nX-A:  1 \r\nx-a: 2\r\nAuthorization: Bearer k', ROUTES);
    expect(head).toEqual({
      kind: 'chat',
      path: '/v1/chat/completions',
      search: '?api-version=2',
      headers: { host: 'gw', 'content-length': '12', 'x-a': '1, 2', authorization: 'Bearer k' },
      length: 12,
      keepAlive: true,
    });
  });

  it('maps each route to its kind; no content-length is an empty body; no headers at all is fine', () => {
    expect(parseHead('POST /v1/completions HTTP/1.1\r\nHost: gw', ROUTES)).toMatchObject({ kind: 'completions', length: 0 });
    expect(parseHead('POST /v1/embeddings HTTP/1.1', ROUTES)).toEqual({ kind: 'embeddings', path: '/v1/embeddings', search: '', headers: {}, length: 0, keepAlive: true });
  });

  it('connection: close in any case and list position ends keep-alive; other tokens do not', () => {
    for (const v of ['close', 'Close', 'keep-alive, CLOSE', ' close ,te']) {
      expect(parseHead(`POST /v1/embeddings HTTP/1.1\r\nConnection: ${v}`, ROUTES)?.keepAlive).toBe(false);
    }
    for (const v of ['keep-alive', 'closed', 'enclose', 'te']) {
      expect(parseHead(`POST /v1/embeddings HTTP/1.1\r\nConnection: ${v}`, ROUTES)?.keepAlive).toBe(true);
    }
  });

  it('keeps tabs and obs-text in values, and an empty value', () => {
    expect(parseHead('POST /v1/embeddings HTTP/1.1\r\nX-A: a\tb\xe9\r\nX-Empty:', ROUTES)?.headers).toEqual({ 'x-a': 'a\tb\xe9', 'x-empty': '' });
  });

  const others: [string, string][] = [
    ['a GET', 'GET /v1/chat/completions HTTP/1.1\r\nHost: gw'],
    ['an unknown path', 'POST /v1/models HTTP/1.1\r\nHost: gw'],
    ['a path with a trailing slash', 'POST /v1/chat/completions/ HTTP/1.1\r\nHost: gw'],
    ['a path in another case', 'POST /V1/chat/completions HTTP/1.1\r\nHost: gw'],
    ['HTTP/1.0', 'POST /v1/chat/completions HTTP/1.0\r\nHost: gw'],
    ['HTTP/2 in the request line', 'POST /v1/chat/completions HTTP/2\r\nHost: gw'],
    ['a lower-case version', 'POST /v1/chat/completions http/1.1\r\nHost: gw'],
    ['a trailing space on the request line', 'POST /v1/chat/completions HTTP/1.1 \r\nHost: gw'],
    ['two spaces before the target', 'POST  /v1/chat/completions HTTP/1.1\r\nHost: gw'],
    ['an absolute-form target', 'POST http://gw/v1/chat/completions HTTP/1.1\r\nHost: gw'],
    ['a space in the target', 'POST /v1/chat/completions?a=b c HTTP/1.1\r\nHost: gw'],
    ['a non-ASCII byte in the target', 'POST /v1/chat/completions?q=\xe9 HTTP/1.1\r\nHost: gw'],
    ['transfer-encoding', 'POST /v1/chat/completions HTTP/1.1\r\nTransfer-Encoding: chunked'],
    ['transfer-encoding beside content-length', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\ntransfer-encoding: identity'],
    ['expect', 'POST /v1/chat/completions HTTP/1.1\r\nExpect: 100-continue\r\nContent-Length: 5'],
    ['upgrade', 'POST /v1/chat/completions HTTP/1.1\r\nConnection: upgrade\r\nUpgrade: h2c'],
    ['two content-lengths, even equal', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 5'],
    ['a content-length list', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 5, 5'],
    ['a signed content-length', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: +5'],
    ['an empty content-length', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length:'],
    ['a 16-digit content-length', 'POST /v1/chat/completions HTTP/1.1\r\nContent-Length: 1000000000000000'],
    ['a header line without a colon', 'POST /v1/chat/completions HTTP/1.1\r\nHost gw'],
    ['a space before the colon', 'POST /v1/chat/completions HTTP/1.1\r\nHost : gw'],
    ['an empty header name', 'POST /v1/chat/completions HTTP/1.1\r\n: gw'],
    ['an obs-fold continuation line', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\r\n c'],
    ['an empty line inside the head', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\r\n\r\nX-B: c'],
    ['a bare LF in a value', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\nX-B: c'],
    ['a bare CR in a value', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\rc'],
    ['NUL in a value', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\0'],
    ['DEL in a value', 'POST /v1/chat/completions HTTP/1.1\r\nX-A: b\x7f'],
    ['bare LF line ends', 'POST /v1/chat/completions HTTP/1.1\nHost: gw\nContent-Length: 2'],
  ];
  for (const [name, text] of others) {
    it(`leaves ${name} to node:http`, () => expect(parseHead(text, ROUTES)).toBeNull());
  }
});

describe('listenFast: the fast path', () => {
  it('answers a plain POST with exact bytes and hands the handler kind, path, search, headers and body', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions?api-version=2', '{"model":"m"}', ['X-Trace: t1']));
    const text = await c.until((t) => t.endsWith('{"model":"m"}'), 'the answer');
    expect(dated(text)).toBe(answer('200 OK', 'chat /v1/chat/completions?api-version=2 {"model":"m"}'));
    expect(calls).toHaveLength(1);
    expect(calls[0]).toMatchObject({ kind: 'chat', path: '/v1/chat/completions', search: '?api-version=2', headers: { host: 'gw', 'x-trace': 't1', 'content-length': '13' } });
    expect(calls[0]!.request.signal.aborted).toBe(false);
  });

  it('writes the answer headers except the ones it sets itself or cannot write safely; content-length counts bytes', async () => {
    const { port } = await start({
      handle: async () => ({
        status: 201,
        headers: {
          'x-ok': 'yes',
          'content-length': '999',
          'transfer-encoding': 'chunked',
          connection: 'close',
          'keep-alive': 'timeout=1',
          date: 'yesterday',
          'x-injected': 'a\r\nx-evil: 1',
          'bad name': 'v',
          'x-tab': 'a\tb',
        },
        body: 'é≥',
      }),
    });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', ''));
    const utf8 = Buffer.from('é≥').toString('latin1');
    expect(utf8).toHaveLength(5);
    const text = await c.until((t) => t.endsWith(utf8), 'the answer');
    expect(dated(text)).toBe(answer('201 Created', utf8, { headers: ['x-ok: yes', 'x-tab: a\tb'] }));
  });

  it('answers Uint8Array and null bodies, and names unknown statuses', async () => {
    const answers: Answer[] = [
      { status: 200, headers: {}, body: new Uint8Array([0, 1, 255]) },
      { status: 204, headers: {}, body: null },
      { status: 599, headers: {}, body: 'x' },
    ];
    const { port } = await start({ handle: async () => answers.shift()! });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', '') + post('/v1/embeddings', '') + post('/v1/embeddings', ''));
    const text = await c.until((t) => t.endsWith('\r\n\r\nx'), 'three answers');
    expect(dated(text)).toBe(
      answer('200 OK', '\x00\x01\xff', { headers: [] }) + answer('204 No Content', '', { headers: [] }) + answer('599 Unknown', 'x', { headers: [] }),
    );
  });

  it('keeps the connection for requests one after another', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    for (let i = 0; i < 3; i++) {
      c.socket.write(post('/v1/completions', `n${i}`));
      await c.until((t) => t.endsWith(`n${i}`), `answer ${i}`);
    }
    expect(dated(c.text())).toBe([0, 1, 2].map((i) => answer('200 OK', `completions /v1/completions n${i}`)).join(''));
    expect(calls).toHaveLength(3);
    expect(c.isClosed()).toBe(false);
  });

  it('answers pipelined requests sent in one write, in order, one at a time', async () => {
    let active = 0;
    let most = 0;
    const { port } = await start({
      handle: async (kind, request, path) => {
        most = Math.max(most, ++active);
        await sleep(5);
        active--;
        return echo(kind, request, path);
      },
    });
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions', 'one') + post('/v1/embeddings?x=1', '') + post('/v1/completions', 'three'));
    const text = await c.until((t) => t.endsWith('three'), 'three answers');
    expect(dated(text)).toBe(
      answer('200 OK', 'chat /v1/chat/completions one') + answer('200 OK', 'embeddings /v1/embeddings?x=1 ') + answer('200 OK', 'completions /v1/completions three'),
    );
    expect(most).toBe(1);
  });

  it('reads a request written one byte at a time', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    const raw = post('/v1/chat/completions', '{"a":"b"}', ['X-Long: ' + 'v'.repeat(40)]);
    for (const ch of raw) {
      c.socket.write(ch, 'latin1');
      await new Promise((r) => setImmediate(r));
    }
    const text = await c.until((t) => t.endsWith('{"a":"b"}'), 'the answer');
    expect(dated(text)).toBe(answer('200 OK', 'chat /v1/chat/completions {"a":"b"}'));
    expect(calls).toHaveLength(1);
  });

  it('reads requests cut at every byte, on one connection', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    const raw = post('/v1/embeddings', 'xyz');
    for (let cut = 1; cut < raw.length; cut++) {
      c.socket.write(raw.slice(0, cut));
      await sleep(1);
      c.socket.write(raw.slice(cut));
      await c.until((t) => count(t, 'embeddings /v1/embeddings xyz') === cut, `answer ${cut}`);
    }
    expect(calls).toHaveLength(raw.length - 1);
    expect(calls.every((call) => call.headers['content-length'] === '3')).toBe(true);
  });

  it('answers 120 pipelined requests (over 100 KiB in one write), in order', async () => {
    const { port, calls } = await start({
      handle: async (kind, request, path) => {
        await sleep(1);
        return echo(kind, request, path);
      },
    });
    const c = await connect(port);
    const n = 120;
    const pad = 'p'.repeat(1000);
    let raw = '';
    for (let i = 0; i < n; i++) raw += post('/v1/completions', `${i}`, [`x-pad: ${pad}`]);
    expect(raw.length).toBeGreaterThan(100 * 1024);
    c.socket.write(raw);
    const text = await c.until((t) => t.endsWith(`completions /v1/completions ${n - 1}`), 'every answer', 5_000);
    expect(count(text, 'HTTP/1.1 200 OK\r\n')).toBe(n);
    expect(calls).toHaveLength(n);
    expect(dated(text)).toBe([...Array(n).keys()].map((i) => answer('200 OK', `completions /v1/completions ${i}`)).join(''));
  });

  it('stops reading a client that sends far ahead while its request is answered, then reads on', async () => {
    // The server side of each connection, to see how much it has read.
    const accepted: net.Socket[] = [];
    const createServer = net.createServer;
    vi.spyOn(net, 'createServer').mockImplementation(((...args: never[]) => {
      const server = (createServer as (...a: never[]) => net.Server)(...args);
      server.on('connection', (s: net.Socket) => accepted.push(s));
      return server;
    }) as typeof net.createServer);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let first = true;
    const { port, calls } = await start({
      handle: async (kind, request, path) => {
        if (first) {
          first = false;
          await released;
        }
        return echo(kind, request, path);
      },
    });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'first'));
    await until(() => calls.length === 1, 'the first request');
    expect(accepted).toHaveLength(1);
    const server = accepted[0]!;
    // Then a request with an 8 MiB body (over the limit: answered 413 and dropped), then a small one.
    const big = 8 * 1024 * 1024;
    c.socket.write(`POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\ncontent-length: ${big}\r\n\r\n`);
    c.socket.write(Buffer.alloc(big, 0x7a));
    c.socket.write(post('/v1/embeddings', 'last'));
    // Until the server stops reading (or has clearly read on): it takes 64 KiB ahead, and a read or two more.
    let read = -1;
    for (let stable = 0; stable < 3 && read < 1024 * 1024; ) {
      await sleep(20);
      stable = server.bytesRead === read ? stable + 1 : 0;
      read = server.bytesRead;
    }
    expect(read).toBeLessThan(512 * 1024);
    release();
    const text = await c.until((t) => t.endsWith('last'), 'every answer', 5_000);
    expect(count(text, 'HTTP/1.1 ')).toBe(3);
    expect(text).toContain('HTTP/1.1 413 ');
    expect(calls).toHaveLength(3);
    expect(server.bytesRead).toBeGreaterThan(big);
  });

  it('connection: close is answered with connection: close, and the server closes', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'bye', ['Connection: close']) + post('/v1/embeddings', 'ignored'));
    await c.closed();
    expect(dated(c.text())).toBe(answer('200 OK', 'embeddings /v1/embeddings bye', { close: true }));
    expect(calls).toHaveLength(1);
  });

  it('a handler that rejects is answered 500 with a JSON error, and the connection stays usable', async () => {
    const logged = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    let first = true;
    const { port } = await start({
      handle: async (kind, request, path) => {
        if (first) {
          first = false;
          throw new Error('bug');
        }
        return echo(kind, request, path);
      },
    });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'a') + post('/v1/embeddings', 'b'));
    const text = await c.until((t) => t.endsWith('embeddings /v1/embeddings b'), 'both answers');
    const error = JSON.stringify({
      error: { message: 'The gateway failed on this request; it was logged. Retry, and report it if it persists.', type: 'server_error', param: null, code: 'internal_error' },
    });
    expect(dated(text)).toBe(answer('500 Internal Server Error', error, { headers: ['content-type: application/json'] }) + answer('200 OK', 'embeddings /v1/embeddings b'));
    expect(logged).toHaveBeenCalledTimes(1);
    expect(String(logged.mock.calls[0]![0])).toContain('bug');
  });

  it('status 499 destroys the connection without a byte', async () => {
    const { port } = await start({ handle: async () => ({ status: 499, headers: {}, body: null }) });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', ''));
    await c.closed();
    expect(c.text()).toBe('');
  });
});

describe('listenFast: 413, 408 and timeouts', () => {
  it('answers 413 for a declared body over the limit, drops the body, and the connection stays usable', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions', 'x'.repeat(1000)));
    await c.until((t) => t.includes('request_too_large'), 'the 413');
    c.socket.write(post('/v1/chat/completions', 'small'));
    const text = await c.until((t) => t.endsWith('small'), 'the next answer');
    const tooLarge = JSON.stringify(
      new GatewayError({
        status: 413,
        type: 'invalid_request_error',
        code: 'request_too_large',
        message: `The request body is larger than this gateway's limit of ${LIMIT} bytes. Send a smaller prompt, or raise --body-limit.`,
      }).toJSON(),
    );
    expect(dated(text)).toBe(answer('413 Payload Too Large', tooLarge, { headers: ['content-type: application/json'] }) + answer('200 OK', 'chat /v1/chat/completions small'));
    expect(calls).toHaveLength(2);
    expect(c.isClosed()).toBe(false);
  });

  it('answers 413 before the body is sent; the body then arrives in pieces and is dropped', async () => {
    const { port } = await start();
    const c = await connect(port);
    const body = 'y'.repeat(5000);
    c.socket.write(`POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\ncontent-length: ${body.length}\r\n\r\n`);
    await c.until((t) => t.includes('request_too_large'), 'the 413');
    // The last piece of the dropped body and the next request in one write.
    const last = body.length - 100;
    for (let i = 0; i < last; i += 700) {
      c.socket.write(body.slice(i, Math.min(i + 700, last)));
      await sleep(1);
    }
    c.socket.write(body.slice(last) + post('/v1/embeddings', 'after'));
    const text = await c.until((t) => t.endsWith('after'), 'the next answer');
    expect(count(text, 'HTTP/1.1 ')).toBe(2);
    expect(text.indexOf('HTTP/1.1 413 Payload Too Large\r\n')).toBe(0);
    expect(dated(text.slice(text.indexOf('HTTP/1.1 200')))).toBe(answer('200 OK', 'embeddings /v1/embeddings after'));
  });

  it('413 with the body and the next request in one write', async () => {
    const { port } = await start();
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'z'.repeat(200)) + post('/v1/embeddings', 'next'));
    const text = await c.until((t) => t.endsWith('next'), 'both answers');
    expect(text.indexOf('HTTP/1.1 413 ')).toBe(0);
    expect(dated(text.slice(text.indexOf('HTTP/1.1 200')))).toBe(answer('200 OK', 'embeddings /v1/embeddings next'));
  });

  it('a body of exactly the limit is read', async () => {
    const { port } = await start();
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'b'.repeat(LIMIT)));
    const text = await c.until((t) => t.endsWith('b'.repeat(LIMIT)), 'the answer');
    expect(text.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
  });

  const body408 = '{"error":{"message":"The request did not arrive in time; send it again.","type":"invalid_request_error","param":null,"code":"request_timeout"}}';
  const timeout408 = `HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: ${body408.length}\r\n\r\n${body408}`;

  it('answers 408 and closes when the head trickles in past the request timeout', async () => {
    const { port, calls } = await start({ requestTimeoutMs: 40 });
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n');
    await sleep(60);
    c.socket.write('content-length: 2\r\n');
    await c.closed();
    expect(c.text()).toBe(timeout408);
    expect(calls).toHaveLength(0);
  });

  it('answers 408 when the body trickles in past the request timeout', async () => {
    const { port, calls } = await start({ requestTimeoutMs: 40 });
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 10\r\n\r\nabc');
    await sleep(60);
    c.socket.write('def');
    await c.closed();
    expect(c.text()).toBe(timeout408);
    expect(calls).toHaveLength(0);
  });

  it('the request timeout counts from a request’s first byte, not from the connection', async () => {
    const { port } = await start({ requestTimeoutMs: 40 });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'one'));
    await c.until((t) => t.endsWith('one'), 'the first answer');
    await sleep(60);
    // In two pieces, so the server checks the time while the request is incomplete.
    const two = post('/v1/embeddings', 'two');
    c.socket.write(two.slice(0, 20));
    await sleep(5);
    c.socket.write(two.slice(20));
    const text = await c.until((t) => t.endsWith('two'), 'the second answer');
    expect(count(text, 'HTTP/1.1 200 OK')).toBe(2);
  });

  it('closes an idle kept-alive connection after the keep-alive timeout', async () => {
    const { port } = await start({ keepAliveTimeoutMs: 40 });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'x'));
    await c.until((t) => t.endsWith('x'), 'the answer');
    const at = Date.now();
    await c.closed();
    expect(Date.now() - at).toBeGreaterThanOrEqual(25);
    expect(Date.now() - at).toBeLessThan(1_000);
  });

  it('a request slower to answer than the keep-alive timeout is not cut', async () => {
    const { port } = await start({
      keepAliveTimeoutMs: 30,
      handle: async (kind, request, path) => {
        await sleep(90);
        return echo(kind, request, path);
      },
    });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'slow'));
    const text = await c.until((t) => t.endsWith('slow'), 'the answer');
    expect(dated(text)).toBe(answer('200 OK', 'embeddings /v1/embeddings slow'));
  });
});

describe('listenFast: client aborts', () => {
  it('a client gone while its request is answered aborts the request signal; the answer is dropped', async () => {
    let cancelled: unknown;
    const { port, calls } = await start({
      handle: async (_kind, request) => {
        await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve()));
        return { status: 200, headers: {}, body: new ReadableStream({ cancel: (reason) => void (cancelled = reason ?? 'cancelled') }) };
      },
    });
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions', '{}'));
    await until(() => calls.length === 1, 'the handler');
    c.socket.destroy();
    await until(() => calls[0]!.request.signal.aborted, 'the abort');
    await until(() => cancelled !== undefined, 'the answer stream to be cancelled');
  });

  it('a client that half-closes while its request is answered is treated as gone', async () => {
    const { port, calls } = await start({
      handle: async (_kind, request) => {
        await new Promise<void>((resolve) => request.signal.addEventListener('abort', () => resolve()));
        return { status: 200, headers: {}, body: 'late' };
      },
    });
    const c = await connect(port);
    c.socket.end(post('/v1/chat/completions', '{}'));
    await until(() => calls.length === 1 && calls[0]!.request.signal.aborted, 'the abort');
    await c.closed();
    expect(c.text()).toBe('');
  });

  it('a client gone mid-body never reaches the handler', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 50\r\n\r\n{"half":');
    await sleep(10);
    c.socket.destroy();
    await sleep(20);
    expect(calls).toHaveLength(0);
  });

  it('a client gone mid-head never reaches the handler', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: g');
    await sleep(10);
    c.socket.destroy();
    await sleep(20);
    expect(calls).toHaveLength(0);
  });
});

describe('listenFast: streamed answers', () => {
  function streamOf(parts: string[], opts: { failAfter?: number } = {}): ReadableStream<Uint8Array> {
    let i = 0;
    return new ReadableStream<Uint8Array>({
      pull(controller) {
        if (opts.failAfter !== undefined && i === opts.failAfter) return controller.error(new Error('upstream broke off'));
        if (i === parts.length) return controller.close();
        controller.enqueue(Buffer.from(parts[i++]!));
      },
    });
  }

  it('writes chunks framed in hex, skips empty ones, ends with the last chunk, and keeps the connection', async () => {
    const long = 'abcdefghijklmnopqrstuvwxyz';
    const { port } = await start({
      handle: async (kind, request, path) =>
        path === '/v1/chat/completions'
          ? { status: 200, headers: { 'content-type': 'text/event-stream' }, body: streamOf(['data: 1\n\n', '', long]) }
          : echo(kind, request, path),
    });
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions', '{}'));
    await c.until((t) => t.endsWith('0\r\n\r\n'), 'the streamed answer');
    c.socket.write(post('/v1/embeddings', 'then'));
    const text = await c.until((t) => t.endsWith('then'), 'the next answer');
    expect(dated(text)).toBe(
      'HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ndate: D\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n' +
        `9\r\ndata: 1\n\n\r\n1a\r\n${long}\r\n0\r\n\r\n` +
        answer('200 OK', 'embeddings /v1/embeddings then'),
    );
  });

  it('a request pipelined behind a streamed answer waits for it, then is answered', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { port } = await start({
      handle: async (kind, request, path) =>
        path === '/v1/chat/completions'
          ? {
              status: 200,
              headers: {},
              body: new ReadableStream<Uint8Array>({
                async start(controller) {
                  controller.enqueue(Buffer.from('a'));
                  await gate;
                  controller.enqueue(Buffer.from('b'));
                  controller.close();
                },
              }),
            }
          : echo(kind, request, path),
    });
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions', '{}') + post('/v1/embeddings', 'behind'));
    await c.until((t) => t.endsWith('1\r\na\r\n'), 'the first chunk');
    await sleep(10);
    expect(c.text()).not.toContain('behind');
    release();
    const text = await c.until((t) => t.endsWith('behind'), 'both answers');
    expect(dated(text)).toBe(
      'HTTP/1.1 200 OK\r\ndate: D\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n1\r\nb\r\n0\r\n\r\n' +
        answer('200 OK', 'embeddings /v1/embeddings behind'),
    );
  });

  it('a streamed answer to a connection: close request ends the connection after the last chunk', async () => {
    const { port } = await start({ handle: async () => ({ status: 200, headers: {}, body: streamOf(['a']) }) });
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions', '{}', ['connection: close']));
    await c.closed();
    expect(dated(c.text())).toBe('HTTP/1.1 200 OK\r\ndate: D\r\nconnection: close\r\ntransfer-encoding: chunked\r\n\r\n1\r\na\r\n0\r\n\r\n');
  });

  it('a stream that fails cuts the connection with no last chunk', async () => {
    const { port } = await start({ handle: async () => ({ status: 200, headers: {}, body: streamOf(['one', 'two', 'three'], { failAfter: 2 }) }) });
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions', '{}'));
    await c.closed();
    expect(dated(c.text())).toBe('HTTP/1.1 200 OK\r\ndate: D\r\nconnection: keep-alive\r\ntransfer-encoding: chunked\r\n\r\n3\r\none\r\n3\r\ntwo\r\n');
  });

  it('holds off reading the stream while the client does not read, then delivers every byte', async () => {
    const chunk = Buffer.alloc(64 * 1024, 0x62);
    const total = 32 * 1024 * 1024;
    let produced = 0;
    const { port } = await start({
      handle: async () => ({
        status: 200,
        headers: {},
        body: new ReadableStream<Uint8Array>(
          {
            pull(controller) {
              if (produced >= total) return controller.close();
              produced += chunk.length;
              controller.enqueue(chunk);
            },
          },
          { highWaterMark: 0 },
        ),
      }),
    });
    const socket = net.connect(port, '127.0.0.1');
    sockets.push(socket);
    await new Promise<void>((resolve) => socket.once('connect', resolve));
    socket.pause();
    socket.write(post('/v1/chat/completions', '{}'));
    await sleep(100);
    // Socket buffers take a few MiB; without backpressure the whole 32 would be read by now.
    expect(produced).toBeLessThan(total / 2);
    let received = 0;
    let tail = '';
    const ended = new Promise<void>((resolve) =>
      socket.on('data', (d: Buffer) => {
        received += d.length;
        tail = (tail + d.toString('latin1')).slice(-5);
        if (tail === '0\r\n\r\n') resolve();
      }),
    );
    socket.resume();
    await ended;
    expect(produced).toBe(total);
    const frame = '10000\r\n'.length + 2;
    expect(received).toBeGreaterThan(total + (total / chunk.length) * frame);
  });

  it('a client that disconnects mid-stream cancels the stream and aborts the request', async () => {
    let cancelled: unknown;
    let pulls = 0;
    const { port, calls } = await start({
      handle: async () => ({
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: new ReadableStream<Uint8Array>({
          async pull(controller) {
            pulls++;
            await sleep(5);
            controller.enqueue(Buffer.from('data: tick\n\n'));
          },
          cancel(reason) {
            cancelled = reason;
          },
        }),
      }),
    });
    const c = await connect(port);
    c.socket.write(post('/v1/chat/completions', '{}'));
    await c.until((t) => t.includes('data: tick'), 'the first chunk');
    c.socket.destroy();
    await until(() => cancelled !== undefined, 'the stream to be cancelled');
    expect((cancelled as Error).message).toBe('client disconnected');
    expect(calls[0]!.request.signal.aborted).toBe(true);
    const after = pulls;
    await sleep(30);
    expect(pulls).toBeLessThanOrEqual(after + 1);
  });
});

describe('listenFast: handoff to node:http', () => {
  it('a GET goes to node:http with its bytes', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write('GET /health?deep=1 HTTP/1.1\r\nhost: gw\r\n\r\n');
    const text = await c.until((t) => t.includes('te=- body='), 'the fallback answer');
    expect(text.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
    expect(text.endsWith('\r\n\r\nfallback GET /health?deep=1 1.1 te=- body=')).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it('a GET whose first bytes arrive alone is handed off at once and read whole', async () => {
    const { port } = await start();
    const c = await connect(port);
    c.socket.write('GE');
    await sleep(10);
    c.socket.write('T /v1/models HTTP/1.1\r\nhost: gw\r\n\r\n');
    const text = await c.until((t) => t.endsWith('body='), 'the fallback answer');
    expect(text.endsWith('fallback GET /v1/models 1.1 te=- body=')).toBe(true);
  });

  it('a chunked POST to a fast route goes to node:http with its body intact, across writes', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nTransfer-Encoding: chunked\r\n\r\n9\r\n{"a":"b');
    await sleep(10);
    c.socket.write('"}\r\n');
    await sleep(10);
    c.socket.write('3;ext=1\r\nxyz\r\n0\r\n\r\n');
    const text = await c.until((t) => t.endsWith('xyz'), 'the fallback answer');
    expect(text.endsWith('fallback POST /v1/chat/completions 1.1 te=chunked body={"a":"b"}xyz')).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it('a head read in pieces and then found not hot is handed over with every byte read so far', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n');
    await sleep(10);
    c.socket.write('x-a: 1\r\n');
    await sleep(10);
    c.socket.write('transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n');
    const text = await c.until((t) => t.endsWith('body=hello'), 'the fallback answer');
    expect(text.endsWith('fallback POST /v1/chat/completions 1.1 te=chunked body=hello')).toBe(true);
    expect(calls).toHaveLength(0);
  });

  it('a chunked POST in one write, and the connection goes on with node:http', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write('POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n' + post('/v1/embeddings', 'second'));
    const text = await c.until((t) => t.endsWith('body=second'), 'both fallback answers');
    expect(count(text, 'fallback POST /v1/embeddings 1.1')).toBe(2);
    expect(text).toContain('te=chunked body=hello');
    expect(calls).toHaveLength(0);
  });

  const handedOff: [string, string, string][] = [
    ['an unknown path', post('/v1/models', 'x'), 'fallback POST /v1/models 1.1 te=- body=x'],
    ['HTTP/1.0', 'POST /v1/embeddings HTTP/1.0\r\ncontent-length: 3\r\n\r\nold', 'fallback POST /v1/embeddings 1.0 te=- body=old'],
    ['an upgrade request', post('/v1/embeddings', 'up', ['connection: upgrade', 'upgrade: h2c']), 'fallback POST /v1/embeddings 1.1 te=- body=up'],
    ['an absolute-form target', 'POST http://gw/v1/embeddings HTTP/1.1\r\nhost: gw\r\ncontent-length: 3\r\n\r\nabs', 'fallback POST http://gw/v1/embeddings 1.1 te=- body=abs'],
  ];
  for (const [name, raw, expected] of handedOff) {
    it(`${name} goes to node:http`, async () => {
      const { port, calls } = await start();
      const c = await connect(port);
      c.socket.write(raw);
      const text = await c.until((t) => t.endsWith(expected), 'the fallback answer');
      expect(text.startsWith('HTTP/1.1 200 OK\r\n')).toBe(true);
      expect(calls).toHaveLength(0);
    });
  }

  it('expect: 100-continue goes to node:http, which asks for the body', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write('POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\nexpect: 100-continue\r\ncontent-length: 4\r\n\r\n');
    await c.until((t) => t.startsWith('HTTP/1.1 100 Continue\r\n\r\n'), '100 Continue');
    c.socket.write('body');
    const text = await c.until((t) => t.endsWith('body=body'), 'the fallback answer');
    expect(text).toContain('fallback POST /v1/embeddings 1.1');
    expect(calls).toHaveLength(0);
  });

  const rejectedByNode: [string, string, number][] = [
    ['a space before a colon', 'POST /v1/embeddings HTTP/1.1\r\nhost : gw\r\ncontent-length: 2\r\n\r\nhi', 400],
    ['an obs-fold line', 'POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\nx-a: b\r\n c\r\ncontent-length: 2\r\n\r\nhi', 400],
    ['two content-lengths', 'POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\ncontent-length: 2\r\ncontent-length: 2\r\n\r\nhi', 400],
    ['a head over 16 KiB', `POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\nx-big: ${'a'.repeat(17 * 1024)}\r\ncontent-length: 2\r\n\r\nhi`, 431],
    ['bare LF line ends', 'POST /v1/embeddings HTTP/1.1\nhost: gw\ncontent-length: 2\n\nhi', 400],
    ['a bare LF after the request line only', 'POST /v1/embeddings HTTP/1.1\nhost: gw\r\ncontent-length: 2\r\n\r\nhi', 400],
    ['a bare CR line end', 'POST /v1/embeddings HTTP/1.1\rhost: gw\r\ncontent-length: 2\r\n\r\nhi', 400],
    ['bare CR line ends', 'POST /v1/embeddings HTTP/1.1\rhost: gw\rcontent-length: 2\r\rhi', 400],
  ];
  for (const [name, raw, status] of rejectedByNode) {
    it(`${name} goes to node:http, which answers ${status}`, async () => {
      const { port, calls } = await start();
      const c = await connect(port);
      c.socket.write(raw);
      await c.closed();
      expect(c.text().startsWith(`HTTP/1.1 ${status} `)).toBe(true);
      expect(calls).toHaveLength(0);
    });
  }

  it('a head over 16 KiB still incomplete is handed off without waiting for its end', async () => {
    const { port } = await start();
    const c = await connect(port);
    c.socket.write(`POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\nx-big: ${'a'.repeat(17 * 1024)}`);
    await c.closed();
    expect(c.text().startsWith('HTTP/1.1 431 ')).toBe(true);
  });

  it('after fast answers, a pipelined GET goes to node:http on the same connection', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'fast') + 'GET /metrics HTTP/1.1\r\nhost: gw\r\n\r\n');
    const text = await c.until((t) => t.endsWith('body='), 'both answers');
    expect(dated(text.slice(0, text.indexOf('fast') + 4))).toBe(answer('200 OK', 'embeddings /v1/embeddings fast'));
    expect(text.endsWith('fallback GET /metrics 1.1 te=- body=')).toBe(true);
    expect(calls).toHaveLength(1);
  });

  it('close() closes handed-off connections too', async () => {
    const listening = await listenFast({ routes: ROUTES, bodyLimit: LIMIT, handle: echo, fallback: fallbackEcho }, 0);
    const c = await connect(listening.port);
    c.socket.write('GET /a HTTP/1.1\r\nhost: gw\r\n\r\n');
    await c.until((t) => t.endsWith('body='), 'the fallback answer');
    await listening.close();
    await c.closed();
  });
});
