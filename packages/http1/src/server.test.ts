/**
 * The fast HTTP/1.1 front door, driven by raw sockets on loopback: the exact
 * bytes it answers, keep-alive and pipelining, requests cut into any pieces,
 * 413/408/499. Client aborts, streamed answers and the handoff to node:http:
 * server-stream.test.ts.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import type { ServerAnswer } from './types.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { acceptedSockets, cleanUp, LIMIT, answer, connect, count, dated, echo, post, sleep, start, until } from './testing.ts';

afterEach(cleanUp);

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

  it('answers Uint8Array and null bodies, and names unknown statuses; a 204 has no content-length (RFC 9110 §8.6)', async () => {
    const answers: ServerAnswer[] = [
      { status: 200, headers: {}, body: new Uint8Array([0, 1, 255]) },
      { status: 204, headers: {}, body: null },
      { status: 599, headers: {}, body: 'x' },
    ];
    const { port } = await start({ handle: async () => answers.shift()! });
    const c = await connect(port);
    c.socket.write(post('/v1/embeddings', '') + post('/v1/embeddings', '') + post('/v1/embeddings', ''));
    const text = await c.until((t) => t.endsWith('\r\n\r\nx'), 'three answers');
    expect(dated(text)).toBe(
      answer('200 OK', '\x00\x01\xff', { headers: [] }) + 'HTTP/1.1 204 No Content\r\ndate: D\r\nconnection: keep-alive\r\n\r\n' + answer('599 Unknown', 'x', { headers: [] }),
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
    const accepted = acceptedSockets();
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
    const tooLarge = JSON.stringify({
      error: {
        message: `The request body is larger than this gateway's limit of ${LIMIT} bytes. Send a smaller prompt, or raise --body-limit.`,
        type: 'invalid_request_error',
        param: null,
        code: 'request_too_large',
      },
    });
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
