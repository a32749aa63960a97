/**
 * The floor for any proxy on Node's event loop here: node:net and nothing
 * else — no HTTP library, no routing, no parsing beyond finding each
 * message's head end and Content-Length. It forwards each request body to a
 * kept-alive upstream socket and the answer back, one write each way. It is
 * not a usable proxy (it trusts both peers completely); it says how fast the
 * sockets alone let a Node process go, beside bench/proxy/node-floor.ts (the
 * same with node:http).
 *
 *   tsx bench/proxy/net-floor.ts LISTEN_PORT UPSTREAM_PORT
 */
import net from 'node:net';

const [listenPort, upstreamPort] = process.argv.slice(2).map(Number);
const CRLFCRLF = Buffer.from('\r\n\r\n');

/** One message framed by Content-Length at the start of `buf`: its head, body and length, or undefined when incomplete. */
function message(buf: Buffer): { head: string; body: Buffer; length: number } | undefined {
  const end = buf.indexOf(CRLFCRLF);
  if (end < 0) return undefined;
  const head = buf.toString('latin1', 0, end);
  const m = /\r\ncontent-length: *(\d+)/i.exec(head);
  const length = end + 4 + (m ? Number(m[1]) : 0);
  return buf.length < length ? undefined : { head, body: buf.subarray(end + 4, length), length };
}

interface Upstream {
  socket: net.Socket;
  /** Bytes of an answer not yet complete. */
  partial: Buffer | undefined;
  answer: ((body: Buffer) => void) | undefined;
}

const idle: Upstream[] = [];

function upstream(): Upstream {
  const reused = idle.pop();
  if (reused) return reused;
  const socket = net.connect(upstreamPort!, '127.0.0.1');
  const u: Upstream = { socket, partial: undefined, answer: undefined };
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  socket.on('close', () => {
    const i = idle.indexOf(u);
    if (i >= 0) idle.splice(i, 1);
  });
  socket.on('data', (chunk: Buffer) => {
    u.partial = u.partial ? Buffer.concat([u.partial, chunk]) : chunk;
    const m = message(u.partial);
    if (!m) return;
    u.partial = undefined;
    const answer = u.answer!;
    u.answer = undefined;
    // nginx closes a kept-alive connection after keepalive_requests and says so.
    if (/\r\nconnection: *close/i.test(m.head)) socket.end();
    else idle.push(u);
    answer(m.body);
  });
  return u;
}

net
  .createServer((client) => {
    client.setNoDelay(true);
    client.on('error', () => undefined);
    let pending: Buffer | undefined;
    client.on('data', (chunk: Buffer) => {
      pending = pending ? Buffer.concat([pending, chunk]) : chunk;
      for (let m = message(pending); m; m = pending ? message(pending) : undefined) {
        pending = pending!.length > m.length ? pending!.subarray(m.length) : undefined;
        const u = upstream();
        u.answer = (body) => {
          if (client.writable) client.write(Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: ${body.length}\r\n\r\n`, 'latin1'), body]));
        };
        u.socket.write(Buffer.concat([Buffer.from(`POST /v1/chat/completions HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${m.body.length}\r\n\r\n`, 'latin1'), m.body]));
      }
    });
  })
  .listen(listenPort, '127.0.0.1');
