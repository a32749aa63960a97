import net from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { batchWrite, flushNow } from './write-batch.ts';

const turn = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A loopback pair: `near` is ours, `far` collects what arrives. */
async function pair(): Promise<{ near: net.Socket; far: net.Socket; received: () => string; ended: Promise<void>; close: () => void }> {
  const server = net.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const accepted = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
  const near = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
  await new Promise<void>((resolve) => near.once('connect', resolve));
  const far = await accepted;
  const chunks: Buffer[] = [];
  far.on('data', (c: Buffer) => chunks.push(c));
  const ended = new Promise<void>((resolve) => far.once('end', resolve));
  const close = () => {
    near.destroy();
    far.destroy();
    server.close();
  };
  opened.push(close);
  return { near, far, received: () => Buffer.concat(chunks).toString('latin1'), ended, close };
}

const opened: (() => void)[] = [];
afterEach(() => {
  for (const close of opened.splice(0)) close();
});

async function until(check: () => boolean): Promise<void> {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((r) => setTimeout(r, 5));
  expect(check()).toBe(true);
}

describe('batchWrite', () => {
  it('holds the writes of one turn of the event loop and sends them at its end, in order', async () => {
    const a = await pair();
    const b = await pair();
    batchWrite(a.near, 'one ');
    batchWrite(b.near, 'uno ');
    batchWrite(a.near, Buffer.from('two'));
    batchWrite(b.near, 'dos', 'latin1');
    // Nothing has left yet: both sockets hold their bytes.
    expect(a.near.writableLength).toBe(7);
    expect(b.near.writableLength).toBe(7);
    await turn();
    expect(a.near.writableLength).toBe(0);
    expect(b.near.writableLength).toBe(0);
    await until(() => a.received() === 'one two' && b.received() === 'uno dos');
  });

  it("sends one socket's writes of a turn in a single writev", async () => {
    const a = await pair();
    const writev = a.near._writev!.bind(a.near);
    const calls: number[] = [];
    a.near._writev = (chunks, cb) => {
      calls.push(chunks.length);
      writev(chunks, cb);
    };
    batchWrite(a.near, 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\na');
    batchWrite(a.near, 'HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\nb');
    await turn();
    expect(calls).toEqual([2]);
    await until(() => a.received().endsWith('b'));
  });

  it('keeps back-pressure: past the high-water mark write says so, and drain follows the flush', async () => {
    const a = await pair();
    const big = Buffer.alloc(a.near.writableHighWaterMark + 1, 0x61);
    const drained = new Promise<void>((resolve) => a.near.once('drain', resolve));
    expect(batchWrite(a.near, big)).toBe(false);
    await drained;
    await until(() => a.received().length === big.length);
  });

  it('end() sends what is held at once, before the end of the turn', async () => {
    const a = await pair();
    batchWrite(a.near, 'last words');
    a.near.end();
    await a.ended;
    expect(a.received()).toBe('last words');
  });

  it('flushNow sends what is held before a destroy', async () => {
    const a = await pair();
    batchWrite(a.near, 'partial answer');
    flushNow(a.near);
    a.near.destroy();
    await until(() => a.received() === 'partial answer');
  });

  it('a socket its owner corked is left to its owner', async () => {
    const a = await pair();
    a.near.cork();
    batchWrite(a.near, 'x');
    await turn();
    expect(a.near.writableLength).toBe(1);
    a.near.uncork();
    await until(() => a.received() === 'x');
  });

  it('after a quiet turn (one socket wrote), the next first writes leave when their callback is done; after a busy one, at the turn end', async () => {
    const a = await pair();
    const b = await pair();
    const microtask = () => Promise.resolve();
    // A busy turn: two sockets wrote.
    batchWrite(a.near, 'busy ');
    batchWrite(b.near, 'busy ');
    await turn();
    // So this turn's writes are held until its end, the first ones too.
    batchWrite(a.near, 'held');
    await microtask();
    expect(a.near.writableLength).toBe(4);
    await turn();
    expect(a.near.writableLength).toBe(0);
    // That turn was quiet (one socket): the next first write leaves before the turn ends, later ones wait for it.
    batchWrite(a.near, ' early');
    await microtask();
    expect(a.near.writableLength).toBe(0);
    batchWrite(b.near, 'later');
    await microtask();
    expect(b.near.writableLength).toBe(5);
    await turn();
    expect(b.near.writableLength).toBe(0);
    await until(() => a.received() === 'busy held early' && b.received() === 'busy later');
  });
});
