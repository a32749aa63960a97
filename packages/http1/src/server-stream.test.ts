/**
 * The fast HTTP/1.1 front door: client aborts, streamed answers (chunked,
 * backpressure, client disconnects) and the handoff of everything it does
 * not serve, bytes intact, to node:http.
 */
import { Buffer } from 'node:buffer';
import net from 'node:net';
import { EventEmitter } from 'node:events';
import { drained, listenFast } from './server.ts';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, LIMIT, ROUTES, answer, connect, count, dated, echo, fallbackEcho, post, sleep, sockets, start, until } from './testing.ts';

afterEach(cleanUp);

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

describe('drained', () => {
  it('resolves on drain or close and leaves neither listener behind (a kept-alive socket waits many times)', async () => {
    const socket = new EventEmitter();
    for (let i = 0; i < 50; i++) {
      const wait = drained(socket);
      socket.emit(i % 2 ? 'drain' : 'close');
      await wait;
    }
    expect([socket.listenerCount('drain'), socket.listenerCount('close')]).toEqual([0, 0]);
  });
});
