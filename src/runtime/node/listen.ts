/**
 * Listening on Node: a fetch handler (a Hono app) over node:http, and the
 * same with plain gRPC (h2c) beside it on one port for Connect routers.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Listening } from '@infergate/http1';

export type { Listening };

type FetchHandler = (request: Request) => Response | Promise<Response>;

/** Serve a fetch handler (a Hono app's `fetch`) on host:port. Port 0 picks a free one. */
export function listen(fetch: FetchHandler, port: number, host = '127.0.0.1'): Promise<Listening> {
  return new Promise((resolve, reject) => {
    let server: ServerType;
    const onError = (err: Error) => reject(err);
    server = serve({ fetch, port, hostname: host }, (info: AddressInfo) => {
      (server as Server).off('error', onError);
      const http = server as Server;
      http.keepAliveTimeout = 65_000;
      resolve({
        port: info.port,
        host,
        close: () =>
          new Promise<void>((done) => {
            http.close(() => done());
            http.closeAllConnections();
          }),
      });
    });
    (server as Server).on('error', onError);
  });
}

/**
 * Serve `fetch` (a Hono app with Connect mounted) over HTTP/1.1 and, on the
 * same port, HTTP/2 with prior knowledge (h2c): there the Connect router is
 * served by connect-node so that plain gRPC (which needs trailers) works for
 * clients in any language; other HTTP/2 requests fall through to `fetch`.
 * The first bytes of each connection tell which: HTTP/2 starts with "PRI *".
 */
export async function listenWithGrpc(
  fetch: FetchHandler,
  routes: (router: import('@connectrpc/connect').ConnectRouter) => void,
  port: number,
  host = '127.0.0.1',
): Promise<Listening> {
  const net = await import('node:net');
  const http = await import('node:http');
  const http2 = await import('node:http2');
  const { getRequestListener } = await import('@hono/node-server');
  const { connectNodeAdapter } = await import('@connectrpc/connect-node');
  const h1Listener = getRequestListener(fetch);
  const h1 = http.createServer(h1Listener);
  h1.keepAliveTimeout = 65_000;
  const h2 = http2.createServer(connectNodeAdapter({ routes, fallback: h1Listener as never }));
  const sessions = new Set<import('node:http2').ServerHttp2Session>();
  h2.on('session', (s) => {
    sessions.add(s);
    s.once('close', () => sessions.delete(s));
  });
  const sockets = new Set<import('node:net').Socket>();
  const server = net.createServer((socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.once('data', (chunk: Buffer) => {
      socket.pause();
      socket.unshift(chunk);
      const isH2 = chunk.length >= 3 && chunk.toString('latin1', 0, 3) === 'PRI';
      if (isH2) {
        // http2 reads the socket's handle itself and takes the bytes already buffered; resuming here would lose them.
        h2.emit('connection', socket);
      } else {
        h1.emit('connection', socket);
        socket.resume();
      }
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const address = server.address() as import('node:net').AddressInfo;
  return {
    port: address.port,
    host,
    close: () =>
      new Promise<void>((done) => {
        server.close(() => done());
        for (const s of sessions) s.destroy();
        h1.closeAllConnections();
        for (const s of sockets) s.destroy();
      }),
  };
}
