/**
 * NodeUpstream against upstreams on loopback that write exact bytes: what
 * goes on the wire, every framing, the keep-alive pool (reuse, stale sockets
 * retried once), timeouts, aborts, cancel, and backpressure.
 */
import { Buffer } from 'node:buffer';
import net, { type AddressInfo, type Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { GatewayError } from '../api/errors.ts';
import { UpstreamError, type UpstreamRequest, type UpstreamResponse } from '../proxy/upstream.ts';
import { IDLE_TIMEOUT_MS, NodeUpstream } from './node-upstream.ts';

interface RawRequest {
  /** The request line and headers, through the empty line. */
  head: string;
  body: Buffer;
  /** Index of the connection it came on, in accept order. */
  conn: number;
  /** Its index among that connection's requests. */
  nth: number;
}

interface Upstream {
  port: number;
  origin: string;
  sockets: Socket[];
  /** Raw chunks as read, per connection. */
  reads: Buffer[][];
  requests: RawRequest[];
  closed: number;
  close(): Promise<void>;
}

type Answerer = (socket: Socket, req: RawRequest) => void;

const servers: Upstream[] = [];
const clients: NodeUpstream[] = [];

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await Promise.all(servers.splice(0).map((s) => s.close()));
});

/** An upstream that reads content-length requests off each connection and lets `answer` write raw bytes. */
async function upstream(answer: Answerer): Promise<Upstream> {
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
  servers.push(up);
  return up;
}

function client(maxSockets?: number): NodeUpstream {
  const c = new NodeUpstream(maxSockets);
  clients.push(c);
  return c;
}

function request(origin: string, init: Partial<UpstreamRequest> = {}): UpstreamRequest {
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

const ok = (body: string, extra = '') => `HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\n${extra}content-length: ${Buffer.byteLength(body)}\r\n\r\n${body}`;

async function text(res: UpstreamResponse): Promise<string> {
  expect(res.body).not.toBeNull();
  return Buffer.from(await res.body!.bytes()).toString('latin1');
}

async function readAll(stream: ReadableStream<Uint8Array>): Promise<string> {
  const reader = stream.getReader();
  let out = '';
  for (;;) {
    const { done, value } = await reader.read();
    if (done) return out;
    out += Buffer.from(value).toString('latin1');
  }
}

/** Polls `cond`; on the monotonic clock, so it works while Date is faked. */
async function until(cond: () => boolean, what: string, ms = 2_000): Promise<void> {
  const deadline = performance.now() + ms;
  while (!cond()) {
    if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function rejection(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (err) {
    return err as Error;
  }
  throw new Error('expected a rejection');
}

describe('NodeUpstream: the request on the wire', () => {
  it('writes the head and body in one write, and drops the caller framing and connection headers', async () => {
    const up = await upstream((s) => s.write(ok('fine')));
    const res = await client().request(
      request(up.origin, {
        path: '/v1/chat/completions?api-version=1',
        headers: {
          'content-type': 'application/json',
          host: 'evil.example',
          'content-length': '999',
          'transfer-encoding': 'chunked',
          connection: 'close',
          'keep-alive': 'timeout=1',
          upgrade: 'h2c',
          te: 'trailers',
          trailer: 'x-t',
          'x-request-id': 'r-1',
        },
        body: Buffer.from('{"a":1}'),
      }),
    );
    expect(res.status).toBe(200);
    expect(await text(res)).toBe('fine');
    const expected =
      `POST /v1/chat/completions?api-version=1 HTTP/1.1\r\nhost: 127.0.0.1:${up.port}\r\nconnection: keep-alive\r\n` +
      'content-type: application/json\r\nx-request-id: r-1\r\ncontent-length: 7\r\n\r\n{"a":1}';
    expect(up.reads[0]!.map((c) => c.toString('latin1'))).toEqual([expected]);
  });

  it('drops framing headers the caller passed in any letter case', async () => {
    const up = await upstream((s) => s.write(ok('fine')));
    await text(
      await client().request(
        request(up.origin, {
          headers: { 'Content-Length': '0', 'Transfer-Encoding': 'chunked', Host: 'evil', Connection: 'close', 'X-Case': 'kept' },
          body: Buffer.from('GET /admin HTTP/1.1\r\n\r\n'),
        }),
      ),
    );
    const head = up.requests[0]!.head;
    expect(head).toBe(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1:${up.port}\r\nconnection: keep-alive\r\nX-Case: kept\r\ncontent-length: 23\r\n\r\n`);
    expect(up.requests).toHaveLength(1);
  });

  it('sends a body over 64 KiB intact beside the head', async () => {
    const up = await upstream((s, req) => s.write(ok(String(req.body.length))));
    const body = Buffer.alloc(300 * 1024);
    for (let i = 0; i < body.length; i++) body[i] = (i * 31) & 0xff;
    const res = await client().request(request(up.origin, { body }));
    expect(await text(res)).toBe(String(body.length));
    expect(up.requests[0]!.head).toContain(`\r\ncontent-length: ${body.length}\r\n\r\n`);
    expect(up.requests[0]!.body.equals(body)).toBe(true);
  });

  it('sends obs-text header values as their bytes', async () => {
    const up = await upstream((s) => s.write(ok('')));
    await text(await client().request(request(up.origin, { headers: { 'x-name': 'café\tbar' } })));
    const head = Buffer.from(up.requests[0]!.head, 'latin1');
    expect(head.includes(Buffer.from([0x63, 0x61, 0x66, 0xe9, 0x09, 0x62, 0x61, 0x72]))).toBe(true);
  });

  it('names a bracketed IPv6 origin in the host header', async () => {
    const server = net.createServer((s) => {
      s.on('error', () => undefined);
      s.once('data', (d) => s.end(ok(d.toString('latin1').split('\r\n')[1]!)));
    });
    const listening = await new Promise<boolean>((resolve) => {
      server.once('error', () => resolve(false));
      server.listen(0, '::1', () => resolve(true));
    });
    if (!listening) return; // no IPv6 loopback here
    try {
      const port = (server.address() as AddressInfo).port;
      const res = await client().request(request(`http://[::1]:${port}`));
      expect(await text(res)).toBe(`host: [::1]:${port}`);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  const injections: [string, Partial<UpstreamRequest>, RegExp][] = [
    ['CRLF in a header value', { headers: { 'x-a': 'b\r\nx-evil: 1' } }, /value of header x-a contains control characters/],
    ['a bare LF in a header value', { headers: { 'x-a': 'b\nc' } }, /value of header x-a/],
    ['NUL in a header value', { headers: { 'x-a': 'b\0' } }, /value of header x-a/],
    ['a character past latin1 in a header value', { headers: { 'x-a': 'saturation ≥ 1' } }, /value of header x-a/],
    ['a space in a header name', { headers: { 'x a': 'b' } }, /header name "x a" is not valid/],
    ['a colon in a header name', { headers: { 'x:a': 'b' } }, /header name/],
    ['a CRLF in a header name', { headers: { 'x\r\nevil': 'b' } }, /header name/],
    ['an empty header name', { headers: { '': 'b' } }, /header name/],
    ['a space in the method', { method: 'GET /x' }, /method "GET \/x" is not a valid HTTP method/],
    ['a space in the path', { path: '/v1/a b' }, /request path/],
    ['CRLF in the path', { path: '/v1\r\nx-evil: 1' }, /request path/],
  ];
  for (const [name, init, message] of injections) {
    it(`answers 400 and sends nothing for ${name}`, async () => {
      const up = await upstream((s) => s.write(ok('')));
      const err = await rejection(client().request(request(up.origin, init)));
      expect(err).toBeInstanceOf(GatewayError);
      expect((err as GatewayError).status).toBe(400);
      expect((err as GatewayError).code).toBe('invalid_header');
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(/the request was not forwarded/);
      await sleep(10);
      expect(up.sockets).toHaveLength(0);
    });
  }

  it('refuses an origin that is not http://host:port', async () => {
    for (const origin of ['https://127.0.0.1:1', 'http://127.0.0.1:1/v1', 'http://user@127.0.0.1:1', 'http://127.0.0.1:123456']) {
      const err = await rejection(client().request(request(origin)));
      expect(err).toBeInstanceOf(UpstreamError);
      expect((err as UpstreamError).kind).toBe('connect');
      expect(err.message).toContain('unsupported upstream origin');
    }
  });
});

describe('NodeUpstream: framing of the answer', () => {
  it('reads status and headers; repeated ones joined', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 201 Created\r\nX-A: 1\r\nx-a: 2\r\ncontent-length: 2\r\n\r\nhi'));
    const res = await client().request(request(up.origin));
    expect(res.status).toBe(201);
    expect(res.headers.get('x-a')).toBe('1, 2');
    expect(res.headers.get('X-A')).toBeNull(); // names are lower-case, as the core asks for them
    const seen: string[] = [];
    res.headers.forEach((v, n) => seen.push(`${n}=${v}`));
    expect(seen).toEqual(['x-a=1, 2', 'content-length=2']);
    expect(await text(res)).toBe('hi');
  });

  it('decodes a chunked answer with extensions and trailers, arriving in pieces', async () => {
    const pieces = ['HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;ext=1\r\nhel', 'lo\r\n', '7\r\n, wor', 'ld\r\n0\r\nX-Trailer: t\r\n', '\r\n'];
    const up = await upstream(async (s) => {
      for (const p of pieces) {
        s.write(p);
        await sleep(3);
      }
    });
    const res = await client().request(request(up.origin));
    expect(res.headers.get('x-trailer')).toBeNull();
    expect(await text(res)).toBe('hello, world');
  });

  it('an answer with both content-length and chunked is read as chunked, and its connection not reused', async () => {
    const up = await upstream((s, req) =>
      s.write(req.conn === 0 ? 'HTTP/1.1 200 OK\r\ncontent-length: 3\r\ntransfer-encoding: chunked\r\n\r\n6\r\nchunky\r\n0\r\n\r\n' : ok('fresh')),
    );
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('chunky');
    expect(await text(await c.request(request(up.origin)))).toBe('fresh');
    expect(up.sockets).toHaveLength(2);
  });

  it('skips 100 and 103 answers before the real one', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early Hints\r\nlink: </a>\r\n\r\n' + ok('done')));
    const res = await client().request(request(up.origin));
    expect(res.status).toBe(200);
    expect(res.headers.get('link')).toBeNull();
    expect(await text(res)).toBe('done');
  });

  it('reads a body until the connection closes, and does not reuse that connection', async () => {
    const up = await upstream(async (s, req) => {
      if (req.conn === 0) {
        s.write('HTTP/1.0 200 OK\r\ncontent-type: text/plain\r\n\r\npart one, ');
        await sleep(5);
        s.end('part two');
      } else s.write(ok('second'));
    });
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('part one, part two');
    expect(await text(await c.request(request(up.origin)))).toBe('second');
    expect(up.sockets).toHaveLength(2);
  });

  it('an answer to HEAD has no body even with a content-length, and the connection is reused', async () => {
    const up = await upstream((s, req) => s.write(req.nth === 0 ? 'HTTP/1.1 200 OK\r\ncontent-length: 1234\r\n\r\n' : ok('after')));
    const c = client();
    const res = await c.request(request(up.origin, { method: 'HEAD' }));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-length')).toBe('1234');
    expect(res.body).toBeNull();
    expect(up.requests[0]!.head.startsWith('HEAD /v1/chat/completions HTTP/1.1\r\n')).toBe(true);
    expect(await text(await c.request(request(up.origin)))).toBe('after');
    expect(up.sockets).toHaveLength(1);
  });

  it('204 and 304 have no body', async () => {
    const up = await upstream((s, req) => s.write(req.nth === 0 ? 'HTTP/1.1 204 No Content\r\n\r\n' : 'HTTP/1.1 304 Not Modified\r\ncontent-length: 10\r\n\r\n'));
    const c = client();
    const a = await c.request(request(up.origin));
    expect([a.status, a.body]).toEqual([204, null]);
    const b = await c.request(request(up.origin));
    expect([b.status, b.body]).toEqual([304, null]);
    expect(up.sockets).toHaveLength(1);
  });

  it('an empty content-length body reads as empty bytes', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'));
    const res = await client().request(request(up.origin));
    expect(res.body).not.toBeNull();
    expect((await res.body!.bytes()).byteLength).toBe(0);
  });

  it('garbage instead of a status line is a connect failure naming the malformed answer', async () => {
    const up = await upstream((s) => s.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    const err = await rejection(client().request(request(up.origin)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('connect');
    expect(err.message).toBe('malformed response: bad status line "SSH-2.0-OpenSSH_9.6"');
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('a malformed chunk mid-body fails the body and drops the connection', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n3\r\nabc\r\nzz\r\n'));
    const res = await client().request(request(up.origin));
    const err = await rejection(res.body!.bytes());
    expect(err.message).toMatch(/^malformed response: bad chunk size "zz"/);
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('an upstream that closes mid-body fails the body', async () => {
    const up = await upstream((s) => s.end('HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc'));
    const res = await client().request(request(up.origin));
    const err = await rejection(res.body!.bytes());
    expect(err.message).toBe('the upstream closed the connection mid-answer');
  });

  it('an upstream that closes mid-head is a connect failure, not retried', async () => {
    const up = await upstream((s) => s.end('HTTP/1.1 200 OK\r\ncontent-le'));
    const err = await rejection(client().request(request(up.origin)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('connect');
    expect(err.message).toBe('malformed response: the upstream closed the connection mid-head');
    expect(up.sockets).toHaveLength(1);
  });

  it('bytes past the answer mean the connection is not reused', async () => {
    const up = await upstream((s, req) => s.write(req.conn === 0 ? ok('one') + 'HTTP/1.1 200 OK\r\n' : ok('two')));
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('one');
    expect(await text(await c.request(request(up.origin)))).toBe('two');
    expect(up.sockets).toHaveLength(2);
  });

  it('a body can only be read once', async () => {
    const up = await upstream((s) => s.write(ok('x')));
    const res = await client().request(request(up.origin));
    expect(await text(res)).toBe('x');
    await expect(res.body!.bytes()).rejects.toThrow('the upstream body was already read');
    expect(() => res.body!.stream(() => undefined)).toThrow('the upstream body was already read');
  });
});

describe('NodeUpstream: the keep-alive pool', () => {
  it('reuses one connection for requests one after another', async () => {
    const up = await upstream((s, req) => s.write(ok(`answer ${req.nth}`)));
    const c = client();
    for (let i = 0; i < 3; i++) expect(await text(await c.request(request(up.origin)))).toBe(`answer ${i}`);
    expect(up.sockets).toHaveLength(1);
    expect(up.requests.map((r) => r.conn)).toEqual([0, 0, 0]);
  });

  it('does not reuse a connection the answer said to close', async () => {
    const up = await upstream((s) => s.write(ok('bye', 'connection: close\r\n')));
    const c = client();
    await text(await c.request(request(up.origin)));
    await text(await c.request(request(up.origin)));
    expect(up.sockets).toHaveLength(2);
    await until(() => up.closed === 2, 'both connections to close');
  });

  it('opens a connection per concurrent request, and keeps at most maxSockets idle', async () => {
    const held: (() => void)[] = [];
    const up = await upstream((s, req) => {
      const answer = () => s.write(ok(`c${req.conn}`));
      if (up.requests.length <= 2) held.push(answer);
      else answer();
      if (held.length === 2) held.splice(0).forEach((f) => f());
    });
    const c = client(1);
    const both = await Promise.all([c.request(request(up.origin)), c.request(request(up.origin))]);
    expect((await Promise.all(both.map(text))).sort()).toEqual(['c0', 'c1']);
    // One of the two is dropped, the other stays for the next request.
    await until(() => up.closed === 1, 'one connection to close');
    expect(await text(await c.request(request(up.origin)))).toMatch(/^c[01]$/);
    expect(up.sockets).toHaveLength(2);
  });

  it('a connection the upstream closed while idle is not used again', async () => {
    const up = await upstream((s, req) => {
      s.write(ok(`c${req.conn}`));
      setTimeout(() => s.end(), 5);
    });
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('c0');
    await until(() => up.closed === 1, 'the upstream to close the first connection');
    await sleep(10);
    expect(await text(await c.request(request(up.origin)))).toBe('c1');
    expect(up.requests.map((r) => [r.conn, r.nth])).toEqual([
      [0, 0],
      [1, 0],
    ]);
  });

  it('a kept-alive connection the upstream drops on the next request is retried once on a new one', async () => {
    const up = await upstream((s, req) => {
      if (req.conn === 0 && req.nth === 1) s.destroy();
      else s.write(ok(`c${req.conn}n${req.nth}`));
    });
    const c = client();
    expect(await text(await c.request(request(up.origin, { body: Buffer.from('one') })))).toBe('c0n0');
    expect(await text(await c.request(request(up.origin, { body: Buffer.from('two') })))).toBe('c1n0');
    expect(up.requests.map((r) => [r.conn, r.nth, r.body.toString()])).toEqual([
      [0, 0, 'one'],
      [0, 1, 'two'],
      [1, 0, 'two'],
    ]);
  });

  it('the same when the upstream half-closes the kept-alive connection instead of resetting it', async () => {
    const up = await upstream((s, req) => {
      if (req.conn === 0 && req.nth === 1) s.end();
      else s.write(ok(`c${req.conn}n${req.nth}`));
    });
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('c0n0');
    expect(await text(await c.request(request(up.origin)))).toBe('c1n0');
  });

  it('retries only once: a fresh connection that is dropped too is a connect failure', async () => {
    const up = await upstream((s, req) => {
      if (req.conn === 0 && req.nth === 0) s.write(ok('first'));
      else s.destroy();
    });
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('first');
    const err = await rejection(c.request(request(up.origin)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('connect');
    expect(up.sockets).toHaveLength(2);
    expect(up.requests).toHaveLength(3);
  });

  it('a fresh connection closed before any answer is not retried', async () => {
    const up = await upstream((s) => s.end());
    const err = await rejection(client().request(request(up.origin)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('connect');
    expect(err.message).toBe('the upstream closed the connection before answering');
    expect(up.sockets).toHaveLength(1);
  });

  it('a kept-alive connection that half-answers and closes is not retried', async () => {
    const up = await upstream((s, req) => {
      if (req.nth === 0) s.write(ok('first'));
      else s.end('HTTP/1.1 200 OK\r\n');
    });
    const c = client();
    await text(await c.request(request(up.origin)));
    const err = await rejection(c.request(request(up.origin)));
    expect((err as UpstreamError).kind).toBe('connect');
    expect(err.message).toMatch(/mid-head/);
    expect(up.sockets).toHaveLength(1);
  });

  it('bytes arriving on an idle connection drop it', async () => {
    const up = await upstream((s, req) => {
      s.write(ok(`c${req.conn}`));
      if (req.conn === 0) setTimeout(() => s.write('HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n'), 5);
    });
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('c0');
    await until(() => up.closed === 1, 'the client to drop the connection');
    expect(await text(await c.request(request(up.origin)))).toBe('c1');
  });

  it('closes connections left idle longer than IDLE_TIMEOUT_MS', async () => {
    vi.useFakeTimers({ toFake: ['setInterval', 'clearInterval', 'Date'] });
    try {
      const up = await upstream((s, req) => s.write(ok(`c${req.conn}`)));
      const c = client();
      expect(await text(await c.request(request(up.origin)))).toBe('c0');
      vi.advanceTimersByTime(IDLE_TIMEOUT_MS);
      await sleep(20);
      expect(up.closed).toBe(0);
      expect(await text(await c.request(request(up.origin)))).toBe('c0');
      vi.advanceTimersByTime(IDLE_TIMEOUT_MS + 5_000);
      await until(() => up.closed === 1, 'the idle connection to close');
      expect(await text(await c.request(request(up.origin)))).toBe('c1');
      await c.close();
    } finally {
      vi.useRealTimers();
    }
  });

  it('connection refused is a connect failure with the code', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const err = await rejection(client().request(request(`http://127.0.0.1:${port}`)));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('connect');
    expect(err.message).toBe('ECONNREFUSED');
  });

  it('close() fails requests in flight and closes idle connections', async () => {
    const up = await upstream((s, req) => {
      if (req.nth === 0) s.write(ok(`c${req.conn}`));
    });
    const c = client();
    // Two connections: one left idle, one carrying a request that gets no answer.
    const [a, b] = await Promise.all([c.request(request(up.origin)), c.request(request(up.origin))]);
    expect([await text(a), await text(b)].sort()).toEqual(['c0', 'c1']);
    const inFlight = c.request(request(up.origin));
    await until(() => up.requests.length === 3, 'the third request');
    expect(up.closed).toBe(0);
    await c.close();
    const err = await rejection(inFlight);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('connect');
    expect(err.message).toBe('the upstream client was closed');
    await until(() => up.closed === up.sockets.length, 'every connection to close');
  });
});

describe('NodeUpstream: timeouts and aborts', () => {
  it('gives up when no head arrives in time, and closes the connection', async () => {
    const up = await upstream(() => undefined);
    const started = Date.now();
    const err = await rejection(client().request(request(up.origin, { headersTimeoutMs: 60 })));
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('timeout');
    expect(err.message).toBe('no response within 60 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('a head that stops halfway times out too', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-'));
    const err = await rejection(client().request(request(up.origin, { headersTimeoutMs: 60 })));
    expect((err as UpstreamError).kind).toBe('timeout');
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('the timeout does not cut a body that is slow to arrive', async () => {
    const up = await upstream(async (s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 4\r\n\r\nab');
      await sleep(80);
      s.write('cd');
    });
    const res = await client().request(request(up.origin, { headersTimeoutMs: 40 }));
    expect(await text(res)).toBe('abcd');
  });

  it('an already aborted signal sends nothing', async () => {
    const up = await upstream((s) => s.write(ok('')));
    const ac = new AbortController();
    ac.abort();
    const err = await rejection(client().request(request(up.origin, { signal: ac.signal })));
    expect((err as UpstreamError).kind).toBe('aborted');
    await sleep(10);
    expect(up.sockets).toHaveLength(0);
  });

  it('an abort while waiting for the head rejects and closes the connection', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\n'));
    const ac = new AbortController();
    const pending = client().request(request(up.origin, { signal: ac.signal }));
    await until(() => up.requests.length === 1, 'the request');
    await sleep(5);
    ac.abort();
    const err = await rejection(pending);
    expect(err).toBeInstanceOf(UpstreamError);
    expect((err as UpstreamError).kind).toBe('aborted');
    expect(err.message).toBe('the client went away');
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('an abort mid-body fails bytes() and closes the connection', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\nsome'));
    const ac = new AbortController();
    const c = client();
    const res = await c.request(request(up.origin, { signal: ac.signal }));
    const body = res.body!.bytes();
    await sleep(5);
    ac.abort();
    await expect(body).rejects.toThrow('the client went away');
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('an abort mid-stream errors the stream, runs onEnd once, closes the connection', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n4\r\nfirs\r\n'));
    const ac = new AbortController();
    const res = await client().request(request(up.origin, { signal: ac.signal }));
    let ends = 0;
    const reader = res.body!.stream(() => ends++).getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('firs');
    ac.abort();
    await expect(reader.read()).rejects.toThrow('the client went away');
    expect(ends).toBe(1);
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('an abort after the body is complete changes nothing', async () => {
    const up = await upstream((s) => s.write(ok('whole')));
    const ac = new AbortController();
    const c = client();
    const res = await c.request(request(up.origin, { signal: ac.signal }));
    await sleep(5);
    ac.abort();
    expect(await text(res)).toBe('whole');
    await text(await c.request(request(up.origin)));
    expect(up.sockets).toHaveLength(1);
  });
});

describe('NodeUpstream: streaming, cancel and backpressure', () => {
  it('streams chunks as they arrive, onFirst before the first, onEnd once at the end', async () => {
    let next!: () => void;
    const up = await upstream((s, req) => {
      if (req.nth > 0) return void s.write(ok('again'));
      s.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\ntransfer-encoding: chunked\r\n\r\n6\r\ndata 1\r\n');
      next = () => s.write('6\r\ndata 2\r\n0\r\n\r\n');
    });
    const c = client();
    const res = await c.request(request(up.origin));
    const events: string[] = [];
    const reader = res.body!.stream(
      () => events.push('end'),
      () => events.push('first'),
    ).getReader();
    const one = await reader.read();
    events.push(Buffer.from(one.value!).toString());
    // The second chunk is not sent yet: what arrived was not held back, and the body has not ended.
    await sleep(10);
    expect(events).toEqual(['first', 'data 1']);
    next();
    const two = await reader.read();
    events.push(Buffer.from(two.value!).toString());
    expect((await reader.read()).done).toBe(true);
    // onEnd runs when the upstream's body is complete, which may be before the reader has taken the last chunk.
    expect(events.filter((e) => e !== 'end')).toEqual(['first', 'data 1', 'data 2']);
    expect(events.filter((e) => e === 'end')).toHaveLength(1);
    // The connection went back to the pool.
    expect(await text(await c.request(request(up.origin)))).toBe('again');
    expect(up.sockets).toHaveLength(1);
  });

  it('a body complete before stream() is called still streams whole and ends', async () => {
    const up = await upstream((s) => s.write(ok('all of it')));
    const res = await client().request(request(up.origin));
    await sleep(10);
    let ends = 0;
    let firsts = 0;
    expect(await readAll(res.body!.stream(() => ends++, () => firsts++))).toBe('all of it');
    expect([ends, firsts]).toEqual([1, 1]);
  });

  it('cancel() drops the body and the connection; onEnd runs once', async () => {
    const up = await upstream((s, req) => s.write(req.conn === 0 ? 'HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial' : ok('next')));
    const c = client();
    const res = await c.request(request(up.origin));
    let ends = 0;
    const reader = res.body!.stream(() => ends++).getReader();
    await reader.read();
    await reader.cancel();
    expect(ends).toBe(1);
    await until(() => up.closed === 1, 'the connection to close');
    expect(await text(await c.request(request(up.origin)))).toBe('next');
    expect(up.sockets).toHaveLength(2);
  });

  it('cancel() before reading closes the connection', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\npartial'));
    const res = await client().request(request(up.origin));
    res.body!.cancel();
    await until(() => up.closed === 1, 'the connection to close');
    await expect(res.body!.bytes()).rejects.toThrow('the upstream body was cancelled');
  });

  /** An upstream that sends `total` bytes of body as fast as the client takes them; `written` counts them. */
  async function firehose(total: number) {
    const state = { written: 0 };
    const up = await upstream((s) => {
      s.write(`HTTP/1.1 200 OK\r\ncontent-length: ${total}\r\n\r\n`);
      const chunk = Buffer.alloc(64 * 1024, 0x61);
      const pump = () => {
        while (state.written < total) {
          state.written += chunk.length;
          if (!s.write(chunk)) {
            s.once('drain', pump);
            return;
          }
        }
      };
      pump();
    });
    return { up, state };
  }

  const TOTAL = 32 * 1024 * 1024;

  it('a stream not read pauses the socket, and then delivers every byte', async () => {
    const { up, state } = await firehose(TOTAL);
    const res = await client().request(request(up.origin));
    let ends = 0;
    const stream = res.body!.stream(() => ends++);
    await sleep(100);
    // Socket buffers hold a few MiB; without backpressure all 32 would be sent by now.
    expect(state.written).toBeLessThan(TOTAL / 2);
    const reader = stream.getReader();
    let got = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      got += value.byteLength;
    }
    expect(got).toBe(TOTAL);
    expect(ends).toBe(1);
  });

  it('a body nobody has claimed yet pauses the socket too', async () => {
    const { up, state } = await firehose(TOTAL);
    const res = await client().request(request(up.origin));
    await sleep(100);
    expect(state.written).toBeLessThan(TOTAL / 2);
    const bytes = await res.body!.bytes();
    expect(bytes.byteLength).toBe(TOTAL);
    expect(bytes[0]).toBe(0x61);
    expect(bytes[TOTAL - 1]).toBe(0x61);
  });
});
