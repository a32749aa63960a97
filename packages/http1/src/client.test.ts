/**
 * Http1Client against upstreams on loopback that write exact bytes: what
 * goes on the wire and every framing of the answer. The pool, timeouts,
 * aborts and streaming: client-pool.test.ts.
 */
import { Buffer } from 'node:buffer';
import net, { type AddressInfo } from 'node:net';
import { ClientError, type ClientRequest } from './types.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, client, ok, rejection, request, sleep, text, until, upstream } from './testing.ts';

afterEach(cleanUp);

describe('Http1Client: the request on the wire', () => {
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

  const injections: [string, Partial<ClientRequest>, RegExp][] = [
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
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).kind).toBe('invalid');
      expect(err.message).toMatch(message);
      expect(err.message).toMatch(/the request was not forwarded/);
      await sleep(10);
      expect(up.sockets).toHaveLength(0);
    });
  }

  it('refuses an origin that is not http://host:port', async () => {
    for (const origin of ['https://127.0.0.1:1', 'http://127.0.0.1:1/v1', 'http://user@127.0.0.1:1', 'http://127.0.0.1:123456']) {
      const err = await rejection(client().request(request(origin)));
      expect(err).toBeInstanceOf(ClientError);
      expect((err as ClientError).kind).toBe('connect');
      expect(err.message).toContain('unsupported upstream origin');
    }
  });
});

describe('Http1Client: framing of the answer', () => {
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

  it('garbage instead of a status line is a broken exchange (written, never retried: issue 16) naming the malformed answer', async () => {
    const up = await upstream((s) => s.write('SSH-2.0-OpenSSH_9.6\r\n\r\n'));
    const err = await rejection(client().request(request(up.origin)));
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).kind).toBe('broken');
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

  it('an upstream that closes mid-head is a broken exchange, not retried', async () => {
    const up = await upstream((s) => s.end('HTTP/1.1 200 OK\r\ncontent-le'));
    const err = await rejection(client().request(request(up.origin)));
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).kind).toBe('broken');
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
