/**
 * A client that does not read its answers: pipelined requests wait, unparsed,
 * until it reads (as node:http), and an answer it stops reading is cut after
 * the send timeout (nginx's `send_timeout`), releasing the answer's stream.
 */
import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { acceptedSockets, cleanUp, connect, post, sleep, sockets, start, until } from './testing.ts';

afterEach(cleanUp);

/** A client socket that keeps none of what it reads (the answers here are megabytes). */
async function rawClient(port: number): Promise<net.Socket> {
  const s = net.connect(port, '127.0.0.1');
  sockets.push(s);
  s.on('error', () => undefined);
  await new Promise((resolve) => s.once('connect', resolve));
  return s;
}

/** Polls until `value()` has not changed for a few polls; returns it. */
async function settled(value: () => number): Promise<number> {
  let last = -1;
  for (let stable = 0; stable < 3; ) {
    await sleep(20);
    const now = value();
    stable = now === last ? stable + 1 : 0;
    last = now;
  }
  return last;
}

describe('listenFast: a client that does not read', () => {
  it('parses no further pipelined request while its answers are not read, then answers them all once they are', async () => {
    const accepted = acceptedSockets();
    const answer = 'a'.repeat(64 * 1024);
    const { port, calls } = await start({ handle: async () => ({ status: 200, headers: {}, body: answer }) });
    const s = await rawClient(port);
    let received = 0;
    let head = 0;
    s.on('data', (chunk: Buffer) => {
      if (head === 0) head = chunk.indexOf('\r\n\r\n') + 4;
      received += chunk.length;
    });
    s.pause();
    const n = 300;
    s.write(post('/v1/embeddings', '{}').repeat(n));
    const answered = await settled(() => calls.length);
    // What the kernel's buffers took, and no more: the rest (15 MiB or so) is neither answered nor held.
    expect(answered).toBeLessThan(n);
    expect(accepted[0]!.writableLength).toBeLessThan(1024 * 1024);
    s.resume();
    await until(() => head > 0 && received >= n * (head + answer.length), 'every answer', 5_000);
    expect(received).toBe(n * (head + answer.length));
    expect(calls).toHaveLength(n);
  });

  it('a streamed answer the client stops reading is cut after sendTimeoutMs with no write completing; one it reads slowly is not', async () => {
    let cancelled = false;
    const { port, calls } = await start({
      sendTimeoutMs: 200,
      handle: async () => ({
        status: 200,
        headers: { 'content-type': 'text/event-stream' },
        body: new ReadableStream<Uint8Array>({ pull: (controller) => controller.enqueue(new Uint8Array(16 * 1024)), cancel: () => void (cancelled = true) }, { highWaterMark: 0 }),
      }),
    });
    const s = await rawClient(port);
    let read = 0;
    s.on('data', (chunk: Buffer) => (read += chunk.length));
    s.write(post('/v1/chat/completions', '{}'));
    // Reading in bursts, never a send timeout apart: over twice the timeout in all, the answer goes on.
    for (let i = 0; i < 8; i++) {
      s.pause();
      await sleep(50);
      s.resume();
      await sleep(10);
    }
    expect(read).toBeGreaterThan(0);
    expect(cancelled).toBe(false);
    // Then nothing is read: the connection is destroyed, the stream cancelled and the request aborted.
    s.pause();
    await until(() => cancelled, 'the answer stream to be cancelled');
    expect(calls[0]!.request.signal.aborted).toBe(true);
  });

  it('pipelined requests behind answers never read are cut after sendTimeoutMs', async () => {
    const accepted = acceptedSockets();
    const answer = 'a'.repeat(64 * 1024);
    const { port } = await start({ sendTimeoutMs: 100, handle: async () => ({ status: 200, headers: {}, body: answer }) });
    const c = await connect(port);
    c.socket.pause();
    c.socket.write(post('/v1/embeddings', '{}').repeat(300));
    await until(() => accepted[0]?.destroyed === true, 'the server to destroy the connection');
  });
});
