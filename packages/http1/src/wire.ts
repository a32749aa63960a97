/** Small pieces of the server's wire work: chunk framing, the date header, waiting for drain. */
import { Buffer } from 'node:buffer';
import type net from 'node:net';

/** A CR or LF that is not half of a CRLF (a CR last in `buf` may be). */
export function strayLineEnd(buf: Buffer): boolean {
  for (let i = buf.indexOf(10); i >= 0; i = buf.indexOf(10, i + 1)) if (i === 0 || buf[i - 1] !== 13) return true;
  for (let i = buf.indexOf(13); i >= 0 && i + 1 < buf.length; i = buf.indexOf(13, i + 1)) if (buf[i + 1] !== 10) return true;
  return false;
}

export function chunkFrame(chunk: Uint8Array): Buffer {
  const size = chunk.byteLength.toString(16);
  const out = Buffer.allocUnsafe(size.length + 2 + chunk.byteLength + 2);
  out.write(size, 0, 'latin1');
  out[size.length] = 13;
  out[size.length + 1] = 10;
  out.set(chunk, size.length + 2);
  out[out.length - 2] = 13;
  out[out.length - 1] = 10;
  return out;
}

let dateSecond = 0;
let dateValue = '';
/** The `date` header's value, formatted once a second. */
export function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateValue = new Date(now).toUTCString();
  }
  return dateValue;
}

/** The socket can take more, or is gone; either listener is removed when the other fires (a kept-alive socket lives on). */
export function drained(socket: { once(event: string, fn: () => void): unknown; off(event: string, fn: () => void): unknown }): Promise<void> {
  return new Promise<void>((resolve) => {
    const done = () => {
      socket.off('drain', done);
      socket.off('close', done);
      resolve();
    };
    socket.once('drain', done);
    socket.once('close', done);
  });
}

/**
 * `drained`, bounded as nginx's `send_timeout`: the peer has `ms` between two writes that complete, not for
 * all it is sent; past it the socket is destroyed. Node reports a write only when it completes (the bytes
 * unsent drop), so progress is checked every `ms`: a peer that reads nothing is cut after one to two of them.
 */
export async function drainedWithin(socket: net.Socket, ms: number): Promise<void> {
  if (socket.destroyed) return;
  let unsent = socket.writableLength;
  const check = (): void => {
    const left = socket.writableLength;
    if (left >= unsent) {
      socket.destroy();
      return;
    }
    unsent = left;
    timer = setTimeout(check, ms);
  };
  let timer = setTimeout(check, ms);
  await drained(socket);
  clearTimeout(timer);
}
