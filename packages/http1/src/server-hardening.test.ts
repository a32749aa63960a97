/**
 * Regression tests for the fast server's security findings (issue 16, "the
 * hand-written HTTP/1.1 stack"): request smuggling through line ends and
 * controls, Host, timeouts on every connection (handed-off ones too),
 * connection caps, and the bounded drain after a 413.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { parseHead } from './request-head.ts';
import { cleanUp, connect, post, ROUTES, sleep, start } from './testing.ts';

afterEach(cleanUp);

const json400 = (text: string) => {
  expect(text.startsWith('HTTP/1.1 400 Bad Request\r\n')).toBe(true);
  const body = JSON.parse(text.slice(text.indexOf('\r\n\r\n') + 4)) as { error: { type: string; code: string; message: string } };
  expect(body.error.type).toBe('invalid_request_error');
  return body.error;
};

describe('request smuggling: heads the fast path never serves', () => {
  const smuggled = 'POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 0\r\n\r\n';
  const cases: [string, string][] = [
    ['a bare LF hiding a content-length (X-Pad:\\nContent-Length: 141)', `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nX-Pad:\nContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`],
    ['Content-Length: 57\\x0b', `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nContent-Length: ${smuggled.length}\x0b\r\n\r\n${smuggled}`],
    ['Content-Length: \\x0c57', `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nContent-Length: \x0c${smuggled.length}\r\n\r\n${smuggled}`],
    ['Content-Length: 57\\xa0', `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nContent-Length: ${smuggled.length}\xa0\r\n\r\n${smuggled}`],
    ['a bare CR in a value', `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nX-A: 1\rContent-Length: ${smuggled.length}\r\n\r\n${smuggled}`],
    ['NUL at the end of a value', `POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\nContent-Length: ${smuggled.length}\x00\r\n\r\n${smuggled}`],
  ];
  for (const [name, raw] of cases) {
    it(`${name}: node:http answers one 400 and closes; nothing reaches the handler`, async () => {
      const { port, calls } = await start();
      const c = await connect(port);
      c.socket.write(Buffer.from(raw, 'latin1'));
      await c.closed();
      expect(c.text().match(/^HTTP\/1\.1 \d{3} /gm)).toHaveLength(1);
      json400(c.text());
      expect(calls).toHaveLength(0);
    });
  }

  it('parseHead refuses VT, FF, 0xA0, NUL, DEL and lone CR/LF anywhere in a head, and trims only SP and HTAB', () => {
    const line = (v: string) => `POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\nx-a: ${v}`;
    for (const bad of ['\x0b', '\x0c', '\xa0', '\x00', '\x7f', '\r', '\n', '\x1b']) {
      for (const v of [`${bad}1`, `1${bad}`, `1${bad}2`]) expect(parseHead(line(v), ROUTES)).toBeNull();
      expect(parseHead(`POST /v1/embeddings HTTP/1.1\r\nhost: gw${bad}`, ROUTES)).toBeNull();
      expect(parseHead(`POST /v1/embeddings HTTP/1.1${bad}\r\nhost: gw`, ROUTES)).toBeNull();
    }
    expect(parseHead(line(' \t 1 \t '), ROUTES)?.headers['x-a']).toBe('1');
    // llhttp refuses an HTAB after a content-length's digits; so does the fast path.
    expect(parseHead('POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\ncontent-length: 2\t', ROUTES)).toBeNull();
    expect(parseHead('POST /v1/embeddings HTTP/1.1\r\nhost: gw\r\ncontent-length:\t2 ', ROUTES)?.length).toBe(2);
  });
});

describe('Host (RFC 9112 §3.2)', () => {
  it('a request without Host is answered 400 by node:http', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write('POST /v1/embeddings HTTP/1.1\r\ncontent-length: 2\r\n\r\nhi');
    await c.closed();
    expect(json400(c.text()).code).toBe('invalid_host');
    expect(calls).toHaveLength(0);
  });

  for (const [name, headers] of [
    ['two Host lines', 'host: a\r\nhost: b\r\n'],
    ['an invalid Host', 'host: a b/c\r\n'],
  ] as const) {
    it(`${name}: 400, stricter than node:http (which serves it)`, async () => {
      const { port, calls } = await start();
      const c = await connect(port);
      c.socket.write(`POST /v1/embeddings HTTP/1.1\r\n${headers}content-length: 2\r\n\r\nhi`);
      await c.closed();
      expect(json400(c.text()).code).toBe('invalid_host');
      expect(calls).toHaveLength(0);
    });
  }

  it('an unknown method gets an error body in the application shape, not a bare 400', async () => {
    const { port } = await start();
    const c = await connect(port);
    c.socket.write('BREW /pot HTTP/1.1\r\nhost: gw\r\n\r\n');
    await c.closed();
    expect(json400(c.text()).code).toBe('malformed_request');
  });
});

describe('timeouts on every connection', () => {
  const is408 = (text: string) => expect(text).toMatch(/^HTTP\/1\.1 408 Request Timeout\r\n[^]*"code":"request_timeout"/);

  it('a connection handed to node:http after one byte is answered 408 and closed at the header timeout', async () => {
    const { port } = await start({ headersTimeoutMs: 150 });
    const c = await connect(port);
    const at = Date.now();
    c.socket.write('G');
    await c.closed(3_000);
    is408(c.text());
    expect(Date.now() - at).toBeGreaterThanOrEqual(140);
  });

  it('a GET head trickling in one byte at a time is cut at the header timeout', async () => {
    const { port } = await start({ headersTimeoutMs: 150 });
    const c = await connect(port);
    const head = 'GET /v1/models HTTP/1.1\r\nhost: gw\r\nx-slow: ' + 'a'.repeat(200);
    let i = 0;
    const drip = setInterval(() => !c.isClosed() && i < head.length && c.socket.write(head[i++]!), 10);
    try {
      await c.closed(3_000);
    } finally {
      clearInterval(drip);
    }
    is408(c.text());
    expect(i).toBeLessThan(head.length);
  });

  it('a fast-path head that stops arriving is answered 408 without waiting for another byte', async () => {
    const { port, calls } = await start({ headersTimeoutMs: 100 });
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n');
    await c.closed(3_000);
    is408(c.text());
    expect(calls).toHaveLength(0);
  });

  it('a body that stops arriving is answered 408 at the request timeout', async () => {
    const { port, calls } = await start({ requestTimeoutMs: 150 });
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 10\r\n\r\nabc');
    await c.closed(3_000);
    is408(c.text());
    expect(calls).toHaveLength(0);
  });
});

describe('connection caps', () => {
  it('closes connections over the cap at once, and counts them', async () => {
    const { port, listening } = await start({ maxConnections: 2 });
    const a = await connect(port);
    const b = await connect(port);
    const c = await connect(port);
    await c.closed();
    expect(c.text()).toBe('');
    expect(listening.connections()).toMatchObject({ open: 2, refused: 1, refusedPerClient: 0 });
    a.socket.destroy();
    await sleep(20);
    const d = await connect(port);
    d.socket.write(post('/v1/embeddings', 'ok'));
    await d.until((t) => t.endsWith('ok'), 'an answer once a slot is free');
    expect(b.isClosed()).toBe(false);
  });

  it('caps the connections of one client address', async () => {
    const { port, listening } = await start({ maxConnectionsPerClient: 1 });
    await connect(port);
    const second = await connect(port);
    await second.closed();
    expect(listening.connections()).toMatchObject({ open: 1, refused: 1, refusedPerClient: 1 });
  });
});

describe('413 and the body that follows', () => {
  it('a declared body over the drain bound is answered 413 with connection: close, and the connection closed', async () => {
    const { port } = await start({ maxDrainBytes: 1024 });
    const c = await connect(port);
    c.socket.write('POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 1000000000000\r\n\r\n');
    c.socket.write('x'.repeat(4096));
    await c.closed();
    expect(c.text()).toMatch(/^HTTP\/1\.1 413 [^]*connection: close\r\n/);
  });
});
