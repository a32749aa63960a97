/**
 * Http1Client: the keep-alive pool (reuse, never a request twice, idle
 * sweep), timeouts, aborts, streaming, cancel and backpressure.
 */
import { Buffer } from 'node:buffer';
import net, { type AddressInfo } from 'node:net';
import { IDLE_TIMEOUT_MS } from './client.ts';
import { ClientError } from './types.ts';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { cleanUp, client, ok, readAll, rejection, request, sleep, text, until, upstream } from './testing.ts';

afterEach(cleanUp);

describe('Http1Client: the keep-alive pool', () => {
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

  it('a kept-alive connection the upstream drops after reading the next request is not retried: broken, written', async () => {
    const up = await upstream((s, req) => {
      if (req.conn === 0 && req.nth === 1) s.destroy();
      else s.write(ok(`c${req.conn}n${req.nth}`));
    });
    const c = client();
    expect(await text(await c.request(request(up.origin, { body: Buffer.from('one') })))).toBe('c0n0');
    const err = await rejection(c.request(request(up.origin, { body: Buffer.from('two') })));
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).kind).toBe('broken');
    expect((err as ClientError).written).toBe(true);
    expect(up.requests.map((r) => [r.conn, r.nth, r.body.toString()])).toEqual([
      [0, 0, 'one'],
      [0, 1, 'two'],
    ]);
  });

  it('the same when the upstream half-closes the kept-alive connection instead of resetting it', async () => {
    const up = await upstream((s, req) => {
      if (req.conn === 0 && req.nth === 1) s.end();
      else s.write(ok(`c${req.conn}n${req.nth}`));
    });
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('c0n0');
    expect(((await rejection(c.request(request(up.origin)))) as ClientError).kind).toBe('broken');
    expect(up.requests).toHaveLength(2);
  });

  it('a request is never sent twice: a dropped connection is one attempt, and the next request opens a new one', async () => {
    const up = await upstream((s, req) => {
      if (req.conn === 0 && req.nth === 0) s.write(ok('first'));
      else if (req.conn === 0) s.destroy();
      else s.write(ok('fresh'));
    });
    const c = client();
    expect(await text(await c.request(request(up.origin)))).toBe('first');
    const err = await rejection(c.request(request(up.origin)));
    expect((err as ClientError).kind).toBe('broken');
    expect(up.sockets).toHaveLength(1);
    expect(up.requests).toHaveLength(2);
    expect(await text(await c.request(request(up.origin)))).toBe('fresh');
  });

  it('a fresh connection closed before any answer is not retried', async () => {
    const up = await upstream((s) => s.end());
    const err = await rejection(client().request(request(up.origin)));
    expect(err).toBeInstanceOf(ClientError);
    // Connected and written: the upstream read the request (issue 16: not `connect`, which would retry it elsewhere).
    expect((err as ClientError).kind).toBe('broken');
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
    expect((err as ClientError).kind).toBe('broken');
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
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).kind).toBe('connect');
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
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).kind).toBe('broken');
    expect(err.message).toBe('the upstream client was closed');
    await until(() => up.closed === up.sockets.length, 'every connection to close');
  });
});

describe('Http1Client: timeouts and aborts', () => {
  it('gives up when no head arrives in time, and closes the connection', async () => {
    const up = await upstream(() => undefined);
    const started = Date.now();
    const err = await rejection(client().request(request(up.origin, { headersTimeoutMs: 60 })));
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).kind).toBe('timeout');
    expect(err.message).toBe('no response within 60 ms');
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
    await until(() => up.closed === 1, 'the connection to close');
  });

  it('a head that stops halfway times out too', async () => {
    const up = await upstream((s) => s.write('HTTP/1.1 200 OK\r\ncontent-'));
    const err = await rejection(client().request(request(up.origin, { headersTimeoutMs: 60 })));
    expect((err as ClientError).kind).toBe('timeout');
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
    expect((err as ClientError).kind).toBe('aborted');
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
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).kind).toBe('aborted');
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

describe('Http1Client: streaming, cancel and backpressure', () => {
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
