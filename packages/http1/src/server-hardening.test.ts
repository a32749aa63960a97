/**
 * Regression tests for the fast server's security findings (issue 16, "the
 * hand-written HTTP/1.1 stack"): request smuggling through line ends and
 * controls, Host, timeouts on every connection (handed-off ones too),
 * connection caps, the bounded drain after a 413 — and, from the review of
 * packages/http1, node:http's 400 to a body it cannot read, the timers after
 * a 413, and header names that are Object.prototype members.
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

describe("node:http's own errors on a handed-off connection", () => {
  for (const [name, body] of [
    ['Transfer-Encoding: xchunked (RFC 9112 §6.3)', 'transfer-encoding: xchunked\r\n\r\n1\r\nx\r\n0\r\n\r\n'],
    ['a chunk size that overflows', 'transfer-encoding: chunked\r\n\r\nffffffffffffffffff1\r\nx\r\n0\r\n\r\n'],
  ] as const) {
    it(`${name}: 400 and close, as node:http (the request already has a ServerResponse, nothing sent)`, async () => {
      const { port } = await start();
      const c = await connect(port);
      c.socket.write(`POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\n${body}`);
      await c.closed();
      expect(json400(c.text()).code).toBe('malformed_request');
    });
  }
});

describe('header names that are Object.prototype members', () => {
  it('constructor, toString and __proto__ reach the handler as sent', async () => {
    const { port, calls } = await start();
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', 'p', ['constructor: a', 'toString: b', '__proto__: c']));
    await c.until((t) => t.endsWith('p'), 'the answer');
    const headers = calls[0]!.request.headers;
    expect([headers.get('constructor'), headers.get('tostring'), headers.get('__proto__'), headers.get('hasownproperty')]).toEqual(['a', 'b', 'c', null]);
    const seen: [string, string][] = [];
    headers.forEach((value, name) => seen.push([name, value]));
    expect(seen).toEqual([['host', 'gw'], ['constructor', 'a'], ['tostring', 'b'], ['__proto__', 'c'], ['content-length', '1']]);
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

  const head413 = 'POST /v1/chat/completions HTTP/1.1\r\nhost: gw\r\ncontent-length: 1000\r\n\r\n';

  it('once the refused body is dropped, the connection idles past the header timeout unanswered, and serves the next request', async () => {
    const { port } = await start({ headersTimeoutMs: 50, requestTimeoutMs: 5_000 });
    const c = await connect(port);
    c.socket.write(head413);
    await c.until((t) => t.endsWith('}'), 'the 413');
    c.socket.write('x'.repeat(1000));
    await sleep(200);
    expect(c.text().match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 413 ']);
    expect(c.isClosed()).toBe(false);
    c.socket.write(post('/v1/embeddings', 'after'));
    await c.until((t) => t.endsWith('after'), 'the next answer');
  });

  it('a body dropped over longer than the header timeout: the next head, in two pieces, has its own header time', async () => {
    const { port } = await start({ headersTimeoutMs: 100, requestTimeoutMs: 5_000 });
    const c = await connect(port);
    c.socket.write(head413);
    for (let i = 0; i < 4; i++) {
      await sleep(40);
      c.socket.write('x'.repeat(250));
    }
    const next = post('/v1/embeddings', 'after');
    c.socket.write(next.slice(0, 20));
    await sleep(20);
    c.socket.write(next.slice(20));
    const text = await c.until((t) => t.endsWith('after') || t.includes(' 408 '), 'the next answer');
    expect(text.match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 413 ', 'HTTP/1.1 200 ']);
  });

  it('a refused body still arriving at the request timeout: the connection closes, with no second answer (RFC 9112 §9.3)', async () => {
    const { port } = await start({ headersTimeoutMs: 100, requestTimeoutMs: 150 });
    const c = await connect(port);
    c.socket.write(head413);
    const drip = setInterval(() => !c.isClosed() && c.socket.write('x'.repeat(20)), 20);
    try {
      await c.closed(3_000);
    } finally {
      clearInterval(drip);
    }
    expect(c.text().match(/HTTP\/1\.1 \d{3} /g)).toEqual(['HTTP/1.1 413 ']);
  });
});
