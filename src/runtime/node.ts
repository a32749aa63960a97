/**
 * Node.js entry helpers: the only place (with deno.ts and workers.ts) that
 * touches runtime APIs — sockets, files, env, signals.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Listening {
  port: number;
  host: string;
  close(): Promise<void>;
}

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

/** The process environment, for flag defaults. */
export function environment(): Record<string, string | undefined> {
  return process.env;
}

/** Resolves on SIGINT or SIGTERM. */
export function waitForShutdown(): Promise<string> {
  return new Promise((resolve) => {
    const done = (signal: string) => {
      process.off('SIGINT', done);
      process.off('SIGTERM', done);
      resolve(signal);
    };
    process.once('SIGINT', done);
    process.once('SIGTERM', done);
  });
}

/** Read a whole text file (UTF-8). */
export async function readTextFile(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(path, 'utf8');
}
