/**
 * Regression tests for the client's findings (issue 16): a request is sent at
 * most once, and the error says whether any byte was written; answers read
 * whole are capped; a body that stops arriving fails; a head with a value no
 * server could pass on is malformed, and its connection dropped.
 */
import { Buffer } from 'node:buffer';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ClientBodyError, ClientError } from './types.ts';
import { cleanUp, client, ok, readAll, rejection, request, silentPort, sleep, text, until, upstream } from './testing.ts';

afterEach(cleanUp);

describe('Http1Client: never a request twice', () => {
  it('a refused connection wrote nothing: connect, written false (safe to send elsewhere)', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const err = (await rejection(client().request(request(`http://127.0.0.1:${port}`)))) as ClientError;
    expect([err.kind, err.written]).toEqual(['connect', false]);
  });

  it('an upstream that reads the request and resets: broken, written true, one request on the wire', async () => {
    const up = await upstream((s) => s.resetAndDestroy());
    const err = (await rejection(client().request(request(up.origin, { body: Buffer.from('{"x":1}') })))) as ClientError;
    expect([err.kind, err.written]).toEqual(['broken', true]);
    await sleep(20);
    expect(up.requests).toHaveLength(1);
  });

  it('a malformed answer after the request was read: broken, not retried', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 2OO OK\r\n\r\n'));
    const err = (await rejection(client().request(request(up.origin)))) as ClientError;
    expect(err.kind).toBe('broken');
    await sleep(20);
    expect(up.requests).toHaveLength(1);
  });

  it('an address that never answers the SYN (a deleted pod) fails as connect, written false, at connectTimeoutMs', async () => {
    const port = await silentPort();
    const err = (await rejection(client({ connectTimeoutMs: 100 }).request(request(`http://127.0.0.1:${port}`, { headersTimeoutMs: 2_000 })))) as ClientError;
    expect([err.kind, err.written, err.message]).toEqual(['connect', false, 'no connection within 100 ms']);
  });

  it('a head timeout before the connection is made: timeout, written false', async () => {
    const port = await silentPort();
    const err = (await rejection(client({ connectTimeoutMs: 2_000 }).request(request(`http://127.0.0.1:${port}`, { headersTimeoutMs: 100 })))) as ClientError;
    expect([err.kind, err.written]).toEqual(['timeout', false]);
  });

  it('a kept-alive socket whose server sent Keep-Alive: timeout=1 is not reused after it (N − 1 s)', async () => {
    const up = await upstream((s, req) => s.write(ok(`c${req.conn}`, 'keep-alive: timeout=1\r\n')));
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('c0');
    await sleep(10);
    expect(await text(await c.request(request(up.origin)))).toBe('c1');
  });
});

describe('Http1Client: bounded answers', () => {
  it('a body read whole past maxBufferedBytes fails with too_large, and the connection is closed', async () => {
    const chunk = 'x'.repeat(1000);
    const up = await upstream((s) => {
      s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n');
      for (let i = 0; i < 20; i++) s.write(`3e8\r\n${chunk}\r\n`);
    });
    const c = client({ maxBufferedBytes: 4096 });
    const res = await c.request(request(up.origin));
    const err = await rejection(res.body!.bytes());
    expect(err).toBeInstanceOf(ClientBodyError);
    expect((err as ClientBodyError).kind).toBe('too_large');
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('a head and 5 of 1 000 bytes: the body fails with idle after bodyIdleTimeoutMs, and the connection is closed', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\nhello'));
    const res = await client().request(request(up.origin, { bodyIdleTimeoutMs: 80 }));
    const at = Date.now();
    const err = await rejection(res.body!.bytes());
    expect((err as ClientBodyError).kind).toBe('idle');
    expect(Date.now() - at).toBeGreaterThanOrEqual(70);
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('the same for a streamed body: the stream errors', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n'));
    const c = client({ bodyIdleTimeoutMs: 80 });
    const res = await c.request(request(up.origin));
    const err = await rejection(readAll(res.body!.stream(() => undefined)));
    expect((err as ClientBodyError).kind).toBe('idle');
  });

  it('a body that keeps arriving slowly is not idle', async () => {
    const up = await upstream(async (s) => {
      s.write('HTTP/1.1 200 OK\r\ncontent-length: 6\r\n\r\n');
      for (const ch of 'abcdef') {
        await sleep(30);
        s.write(ch);
      }
    });
    const res = await client().request(request(up.origin, { bodyIdleTimeoutMs: 60 }));
    expect(await text(res)).toBe('abcdef');
  });

  for (const [name, value] of [
    ['a bare CR', 'a\rb'],
    ['NUL', 'a\x00b'],
    ['a control character', 'a\x01b'],
    ['DEL', 'a\x7f'],
  ] as const) {
    it(`a header value with ${name} is a malformed answer (broken), and the upstream connection is closed`, async () => {
      const up = await upstream((s) => s.write(`HTTP/1.1 200 OK\r\nx-bad: ${value}\r\ncontent-length: 2\r\n\r\nok`));
      const err = (await rejection(client().request(request(up.origin)))) as ClientError;
      expect(err.kind).toBe('broken');
      expect(err.message).toBe('malformed response: the value of header x-bad has control characters');
      await until(() => up.closed === 1, 'the connection to close');
    });
  }

  it('trims only SP and HTAB around response header values', async () => {
    const up = await upstream((s) => s.write(Buffer.from('HTTP/1.1 200 OK\r\nx-a: \t v \t\r\nx-b: \xa0w\xa0\r\ncontent-length: 0\r\n\r\n', 'latin1')));
    const res = await client().request(request(up.origin));
    expect([res.headers.get('x-a'), res.headers.get('x-b')]).toEqual(['v', '\xa0w\xa0']);
  });
});
