/**
 * Shutting the fast server down: `close(graceMs)` drains (idle connections
 * close at once, a request under way gets its answer with `connection:
 * close`, new connections are refused, what is left when the grace ends is
 * cut), and answers held for a turn's write batch are not lost when node:http
 * or the client ends the connection in that same turn.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { cleanUp, connect, post, sleep, start } from './testing.ts';

afterEach(cleanUp);

/** A handler that answers when `release()` is called. */
function gate() {
  let release!: () => void;
  const opened = new Promise<void>((resolve) => (release = resolve));
  return { release: () => release(), handle: async () => (await opened, { status: 200, headers: { 'content-type': 'text/plain' }, body: 'late answer' }) };
}

/** A connection with a request the handler holds (it has been called, and waits for `release`). */
async function busyConnection(port: number, calls: unknown[]) {
  const busy = await connect(port);
  busy.socket.write(post('/v1/chat/completions', '{}'));
  for (let i = 0; i < 200 && calls.length === 0; i++) await sleep(5);
  return busy;
}

describe('listenFast: close(graceMs) drains', () => {
  it('closes idle connections at once, answers the request under way with connection: close, refuses new connections', async () => {
    const g = gate();
    const { port, listening, calls } = await start({ handle: g.handle });
    const idle = await connect(port);
    const busy = await busyConnection(port, calls);
    const closing = listening.close(5_000);
    await idle.closed(1_000);
    expect(idle.text()).toBe('');
    // No new connection once draining.
    const refused = await new Promise<boolean>((resolve) => {
      const s = net.connect(port, '127.0.0.1');
      s.on('connect', () => (s.destroy(), resolve(false)));
      s.on('error', () => resolve(true));
    });
    expect(refused).toBe(true);
    expect(busy.isClosed()).toBe(false);
    g.release();
    const text = await busy.until((t) => t.endsWith('late answer'), 'the answer');
    expect(text).toMatch(/^HTTP\/1\.1 200 OK\r\n/);
    expect(text).toContain('\r\nconnection: close\r\n');
    await busy.closed(1_000);
    await closing;
  });

  it('cuts a request still under way when the grace ends', async () => {
    const g = gate();
    const { port, listening, calls } = await start({ handle: g.handle });
    const busy = await busyConnection(port, calls);
    const started = Date.now();
    await listening.close(200);
    expect(Date.now() - started).toBeGreaterThanOrEqual(150);
    await busy.closed(1_000);
    expect(busy.text()).toBe('');
    g.release();
  });

  it('without a grace, cuts at once as before', async () => {
    const g = gate();
    const { port, listening, calls } = await start({ handle: g.handle });
    const busy = await busyConnection(port, calls);
    await listening.close();
    await busy.closed(1_000);
    g.release();
  });
});

describe('answers held for the write batch', () => {
  it('a pipelined answer reaches the client although node:http destroys the connection it was handed in the same turn', async () => {
    const { port } = await start();
    const c = await connect(port);
    // A fast request, then a CONNECT node:http refuses by destroying the socket (no 'connect' listener).
    c.socket.write(post('/v1/chat/completions', '{"n":1}') + 'CONNECT x:443 HTTP/1.1\r\nHost: x:443\r\n\r\n');
    await c.closed(2_000);
    expect(c.text()).toMatch(/^HTTP\/1\.1 200 OK\r\n[\s\S]*\{"n":1\}$/);
  });
});
