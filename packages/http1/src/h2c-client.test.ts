/**
 * H2cClient against node:http2 servers on loopback speaking h2c with prior
 * knowledge: what reaches the server, one session shared by requests, and
 * every way an exchange fails — refused, reset before and after the head,
 * GOAWAY, timeouts, aborts, a body too large or stalled.
 */
import { Buffer } from 'node:buffer';
import http2, { type Http2Server, type ServerHttp2Stream, type IncomingHttpHeaders } from 'node:http2';
import net, { type AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { H2cClient } from './h2c-client.ts';
import { ClientBodyError, ClientError, type ClientRequest } from './types.ts';
import { readAll, rejection, request, sleep, text, until } from './testing.ts';

const { NGHTTP2_REFUSED_STREAM, NGHTTP2_INTERNAL_ERROR } = http2.constants;

const servers: Http2Server[] = [];
const clients: H2cClient[] = [];
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  for (const s of servers.splice(0)) {
    s.close();
    (s as unknown as { closeAllSessions?: () => void }).closeAllSessions?.();
  }
});

interface Seen {
  headers: IncomingHttpHeaders;
  body: string;
}

/** An h2c server; `handle` answers each stream once its body is read. Sessions and requests are counted. */
async function h2c(handle: (stream: ServerHttp2Stream, seen: Seen) => void) {
  const seen: Seen[] = [];
  const sessions: http2.ServerHttp2Session[] = [];
  const server = http2.createServer();
  const up = { origin: '', seen, sessions };
  server.on('session', (s) => sessions.push(s));
  server.on('stream', (stream, headers) => {
    const chunks: Buffer[] = [];
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('end', () => {
      const s = { headers, body: Buffer.concat(chunks).toString() };
      seen.push(s);
      handle(stream, s);
    });
    stream.on('error', () => undefined);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  up.origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

function client(options?: ConstructorParameters<typeof H2cClient>[0]): H2cClient {
  const c = new H2cClient(options);
  clients.push(c);
  return c;
}

const json = (stream: ServerHttp2Stream, body: unknown) => {
  if (stream.destroyed || stream.closed) return; // reset meanwhile (a GOAWAY, the client gone)
  stream.respond({ ':status': 200, 'content-type': 'application/json', 'x-upstream': 'h2' });
  stream.end(JSON.stringify(body));
};

describe('H2cClient: the exchange', () => {
  it('sends method, path, authority and headers, drops connection-specific ones, and reads the answer', async () => {
    const up = await h2c((s, seen) => json(s, { got: seen.body }));
    const res = await client().request(
      request(up.origin, {
        path: '/v1/chat/completions?api-version=1',
        host: 'gateway.example',
        headers: { 'Content-Type': 'application/json', connection: 'close', 'keep-alive': 'timeout=1', 'transfer-encoding': 'chunked', te: 'trailers', upgrade: 'h2c', host: 'evil', 'x-request-id': 'r-1' },
        body: Buffer.from('{"a":1}'),
      }),
    );
    expect(res.status).toBe(200);
    expect(res.headers.get('x-upstream')).toBe('h2');
    expect(res.headers.get(':status')).toBeNull();
    const names: string[] = [];
    res.headers.forEach((_v, n) => names.push(n));
    expect(names.some((n) => n.startsWith(':'))).toBe(false);
    expect(JSON.parse(await text(res))).toEqual({ got: '{"a":1}' });
    const h = up.seen[0]!.headers;
    expect(h[':method']).toBe('POST');
    expect(h[':path']).toBe('/v1/chat/completions?api-version=1');
    expect(h[':authority']).toBe('gateway.example');
    expect(h['content-type']).toBe('application/json');
    expect(h['content-length']).toBe('7');
    expect(h['x-request-id']).toBe('r-1');
    for (const dropped of ['connection', 'keep-alive', 'transfer-encoding', 'te', 'upgrade', 'host']) expect(h[dropped]).toBeUndefined();
  });

  it('uses the origin as :authority when no Host is given, and one session for many requests', async () => {
    const up = await h2c((s, seen) => json(s, { n: seen.body }));
    const c = client();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => c.request(request(up.origin, { body: Buffer.from(String(i)) })).then(text)));
    expect(answers.map((a) => JSON.parse(a).n)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(up.sessions).toHaveLength(1);
    expect(up.seen[0]!.headers[':authority']).toBe(up.origin.slice('http://'.length));
  });

  it('streams a body as it arrives, with its first chunk and its end reported', async () => {
    let stream!: ServerHttp2Stream;
    const up = await h2c((s) => {
      stream = s;
      s.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      s.write('data: 1\n\n');
    });
    const res = await client().request(request(up.origin));
    const events: string[] = [];
    const body = res.body!.stream(
      () => events.push('end'),
      () => events.push('first'),
    );
    const reader = body.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('data: 1\n\n');
    expect(events).toEqual(['first']);
    stream.end('data: [DONE]\n\n');
    let rest = '';
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest += Buffer.from(value).toString();
    }
    expect(rest).toBe('data: [DONE]\n\n');
    expect(events).toEqual(['first', 'end']);
  });

  it('answers with no body for a response that ends with its head', async () => {
    const up = await h2c((s) => {
      s.respond({ ':status': 204 }, { endStream: true });
    });
    const res = await client().request(request(up.origin));
    expect(res.status).toBe(204);
    expect(res.body).toBeNull();
  });

  it('opens a new session after the server sent GOAWAY, and the old streams finish', async () => {
    const up = await h2c((s, seen) => json(s, { body: seen.body }));
    const c = client();
    expect(await text(await c.request(request(up.origin, { body: Buffer.from('a') })))).toContain('"a"');
    up.sessions[0]!.goaway();
    await sleep(50);
    expect(await text(await c.request(request(up.origin, { body: Buffer.from('b') })))).toContain('"b"');
    expect(up.sessions).toHaveLength(2);
  });

  it('closes a session left with no stream for its idle limit', async () => {
    const up = await h2c((s) => json(s, {}));
    const c = client({ sessionIdleTimeoutMs: 50 });
    await text(await c.request(request(up.origin)));
    await until(() => up.sessions[0]!.closed || up.sessions[0]!.destroyed, 'the idle session to close');
    await text(await c.request(request(up.origin)));
    expect(up.sessions).toHaveLength(2);
  });
});

describe('H2cClient: the server\'s limits', () => {
  it('keeps to SETTINGS_MAX_CONCURRENT_STREAMS: a burst opens more sessions instead of being refused or queued past its timeout', async () => {
    const up = await h2c((s, seen) => setTimeout(() => json(s, { n: seen.body }), 30));
    const server = servers.at(-1)!;
    server.updateSettings({ maxConcurrentStreams: 2 });
    const c = client();
    const answers = await Promise.all(Array.from({ length: 10 }, (_, i) => c.request(request(up.origin, { body: Buffer.from(String(i)), headersTimeoutMs: 1_000 })).then(text)));
    expect(answers.map((a) => JSON.parse(a).n)).toEqual(Array.from({ length: 10 }, (_, i) => String(i)));
    expect(up.seen).toHaveLength(10);
    expect(up.sessions.length).toBeGreaterThanOrEqual(5);
    expect(up.sessions.length).toBeLessThanOrEqual(10);
  });

  it('sends nothing to a server that does not speak HTTP/2: `connect`, not written', async () => {
    const plain = net.createServer((sock) => sock.end('HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n'));
    await new Promise<void>((r) => plain.listen(0, '127.0.0.1', r));
    try {
      const err = (await rejection(client().request(request(`http://127.0.0.1:${(plain.address() as AddressInfo).port}`, { body: Buffer.from('x') })))) as ClientError;
      expect(err.kind).toBe('connect');
      expect(err.written).toBe(false);
    } finally {
      plain.close();
    }
  });

  it('after a head timeout, drops a session that does not answer a PING, and keeps one that does', async () => {
    const up = await h2c((s, seen) => {
      if (seen.body !== 'slow') json(s, {});
    });
    // A TCP relay that can turn into a black hole (a peer gone without a FIN or RST).
    let muted = false;
    const relay = net.createServer((inbound) => {
      const outbound = net.connect(Number(new URL(up.origin).port), '127.0.0.1');
      inbound.on('data', (d) => muted || outbound.write(d));
      outbound.on('data', (d) => muted || inbound.write(d));
      for (const [a, b] of [[inbound, outbound], [outbound, inbound]] as const) a.on('close', () => b.destroy()).on('error', () => undefined);
    });
    await new Promise<void>((r) => relay.listen(0, '127.0.0.1', r));
    const origin = `http://127.0.0.1:${(relay.address() as AddressInfo).port}`;
    try {
      const c = client({ pingTimeoutMs: 100 });
      expect(((await rejection(c.request(request(origin, { body: Buffer.from('slow'), headersTimeoutMs: 50 })))) as ClientError).kind).toBe('timeout');
      await sleep(150);
      await text(await c.request(request(origin)));
      expect(up.sessions).toHaveLength(1); // it answered the PING: kept
      muted = true;
      expect(((await rejection(c.request(request(origin, { body: Buffer.from('slow'), headersTimeoutMs: 50 })))) as ClientError).kind).toBe('timeout');
      await sleep(200);
      muted = false;
      await text(await c.request(request(origin)));
      expect(up.sessions).toHaveLength(2); // the silent one was dropped
    } finally {
      relay.close();
    }
  });
});

describe('H2cClient: failures, with whether the request may have been processed', () => {
  it('a refused connection is `connect` (nothing was sent)', async () => {
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((r) => probe.close(r));
    const err = await rejection(client().request(request(`http://127.0.0.1:${port}`)));
    expect(err).toBeInstanceOf(ClientError);
    expect((err as ClientError).kind).toBe('connect');
    expect((err as ClientError).written).toBe(false);
  });

  it('a stream the server refused (REFUSED_STREAM) is sent again, twice at most, then fails `connect`: never processed, safe elsewhere', async () => {
    const up = await h2c((s) => s.close(NGHTTP2_REFUSED_STREAM));
    const err = (await rejection(client().request(request(up.origin, { body: Buffer.from('x') })))) as ClientError;
    expect(err.kind).toBe('connect');
    expect(err.written).toBe(false);
    expect(up.seen).toHaveLength(3);
  });

  it('streams left unprocessed by a GOAWAY (a server closing its connection after N requests) are sent again on a new session: none fails', async () => {
    const up = await h2c((s, seen) => {
      // As nginx after keepalive_requests: the 5th stream is the last this connection processes.
      if (up.seen.length === 5) s.session!.goaway(0, s.id!);
      setTimeout(() => json(s, { n: seen.body }), 10);
    });
    const c = client();
    const answers = await Promise.all(Array.from({ length: 20 }, (_, i) => c.request(request(up.origin, { body: Buffer.from(String(i)) })).then(text)));
    expect(answers.map((a) => JSON.parse(a).n)).toEqual(Array.from({ length: 20 }, (_, i) => String(i)));
    expect(up.sessions.length).toBeGreaterThanOrEqual(2);
  });

  it('a stream reset before the head for any other reason is `broken`', async () => {
    const up = await h2c((s) => s.close(NGHTTP2_INTERNAL_ERROR));
    const err = (await rejection(client().request(request(up.origin, { body: Buffer.from('x') })))) as ClientError;
    expect(err.kind).toBe('broken');
    expect(err.written).toBe(true);
  });

  it('a session destroyed before the head is `broken`', async () => {
    const up = await h2c(() => up.sessions[0]!.destroy());
    const err = (await rejection(client().request(request(up.origin)))) as ClientError;
    expect(err.kind).toBe('broken');
  });

  it('no head in time is `timeout`; the caller going away is `aborted`', async () => {
    const up = await h2c(() => undefined);
    const c = client();
    expect(((await rejection(c.request(request(up.origin, { headersTimeoutMs: 50 })))) as ClientError).kind).toBe('timeout');
    const controller = new AbortController();
    const pending = c.request(request(up.origin, { signal: controller.signal }));
    setTimeout(() => controller.abort(), 20);
    expect(((await rejection(pending)) as ClientError).kind).toBe('aborted');
    controller.abort();
    expect(((await rejection(c.request(request(up.origin, { signal: controller.signal })))) as ClientError).kind).toBe('aborted');
  });

  it('a request that cannot be written is `invalid`, and nothing reaches the server', async () => {
    const up = await h2c((s) => json(s, {}));
    const c = client();
    for (const bad of <Partial<ClientRequest>[]>[{ method: 'PO ST' }, { path: '/a b' }, { headers: { 'x-bad': 'a\r\nb' } }, { headers: { 'bad name': 'v' } }, { host: 'a\nb' }]) {
      const err = (await rejection(c.request(request(up.origin, bad)))) as ClientError;
      expect(err.kind).toBe('invalid');
    }
    expect(up.seen).toHaveLength(0);
  });

  it('an origin that is not http://host:port is refused as `connect`', async () => {
    expect(((await rejection(client().request(request('https://example.com')))) as ClientError).kind).toBe('connect');
  });

  it('a stream reset mid-body fails the body `broken`; the session serves on', async () => {
    const up = await h2c((s, seen) => {
      if (seen.body === 'ok') return json(s, { fine: true });
      s.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      // destroy(err) resets with INTERNAL_ERROR; node:http2's close(code) would end the body cleanly first.
      s.write('data: 1\n\n', () => setTimeout(() => s.destroy(new Error('the model server crashed')), 20));
    });
    const c = client();
    const res = await c.request(request(up.origin, { body: Buffer.from('cut') }));
    const err = await rejection(readAll(res.body!.stream(() => undefined)));
    expect(err).toBeInstanceOf(ClientBodyError);
    expect((err as ClientBodyError).kind).toBe('broken');
    expect(await text(await c.request(request(up.origin, { body: Buffer.from('ok') })))).toContain('fine');
    expect(up.sessions).toHaveLength(1);
  });

  it('a session that dies mid-body fails the body `broken`, read whole or streamed', async () => {
    const up = await h2c((s) => {
      s.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      s.write('data: 1\n\n', () => setTimeout(() => s.session?.destroy(), 20));
    });
    const c = client();
    const whole = await c.request(request(up.origin));
    expect(((await rejection(whole.body!.bytes())) as ClientBodyError).kind).toBe('broken');
    const streamed = await c.request(request(up.origin));
    expect(((await rejection(readAll(streamed.body!.stream(() => undefined)))) as ClientBodyError).kind).toBe('broken');
  });

  it('a body that ended or broke off before it was read gives its outcome at once, not after the idle limit', async () => {
    const up = await h2c((s, seen) => {
      s.respond({ ':status': 200 });
      if (seen.body === 'empty') s.end();
      else s.write('x', () => setTimeout(() => s.destroy(new Error('crash')), 5));
    });
    const c = client({ bodyIdleTimeoutMs: 5_000 });
    const empty = await c.request(request(up.origin, { body: Buffer.from('empty') }));
    await sleep(50);
    expect(await text(empty)).toBe('');
    const reset = await c.request(request(up.origin, { body: Buffer.from('reset') }));
    await sleep(50);
    const started = Date.now();
    expect(((await rejection(reset.body!.bytes())) as ClientBodyError).kind).toBe('broken');
    expect(Date.now() - started).toBeLessThan(1_000);
  });

  it('a reader slower than the server is back-pressure, not an idle body', async () => {
    const up = await h2c((s) => {
      s.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      let n = 0;
      const write = () => {
        while (n < 64) if (!s.write(Buffer.alloc(16 * 1024, 97 + (n++ % 26)))) return void s.once('drain', write);
        s.end();
      };
      write();
    });
    const res = await client({ bodyIdleTimeoutMs: 100 }).request(request(up.origin));
    const reader = res.body!.stream(() => undefined).getReader();
    await reader.read();
    await sleep(400); // the server has long filled every window: no byte arrives while the reader waits
    let size = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      size += value.byteLength;
    }
    expect(size).toBeGreaterThan(60 * 16 * 1024);
  });

  it('a body past maxBufferedBytes is `too_large`; one that stalls is `idle`', async () => {
    const up = await h2c((s, seen) => {
      s.respond({ ':status': 200 });
      if (seen.body === 'big') s.end(Buffer.alloc(10_000));
      else s.write('x');
    });
    const c = client({ maxBufferedBytes: 1_000, bodyIdleTimeoutMs: 50 });
    const big = await c.request(request(up.origin, { body: Buffer.from('big') }));
    expect(((await rejection(big.body!.bytes())) as ClientBodyError).kind).toBe('too_large');
    const stalled = await c.request(request(up.origin, { body: Buffer.from('stall') }));
    expect(((await rejection(stalled.body!.bytes())) as ClientBodyError).kind).toBe('idle');
  });

  it('cancelling a streamed body resets the stream (the server sees it end)', async () => {
    let closed = false;
    const up = await h2c((s) => {
      s.on('close', () => (closed = true));
      s.respond({ ':status': 200, 'content-type': 'text/event-stream' });
      s.write('data: 1\n\n');
    });
    let ended = 0;
    const res = await client().request(request(up.origin));
    const reader = res.body!.stream(() => ended++).getReader();
    await reader.read();
    await reader.cancel();
    await until(() => closed, 'the server stream to close');
    expect(ended).toBe(1);
  });
});
