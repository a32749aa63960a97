/**
 * Node.js entry helpers: the only place (with deno.ts and workers.ts) that
 * touches runtime APIs — sockets, files, env, signals.
 */
import { serve, type ServerType } from '@hono/node-server';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { availableParallelism } from 'node:os';

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

/** How many processes can usefully run in parallel here (for `--workers auto`). */
export function cpuCount(): number {
  return availableParallelism();
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

// ---- files (state dir, endpoints file) ----

/** A file's text, or undefined when it does not exist. */
export async function readFileText(path: string): Promise<string | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

/** Replace a file whole: write a temporary file, fsync it, rename it over the old one, fsync the directory. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const { open, rename, mkdir } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  await rename(tmp, path);
  const handle = await open(dir, 'r').catch(() => undefined);
  if (handle) {
    await handle.sync().catch(() => undefined); // not every filesystem syncs directories
    await handle.close();
  }
}

/**
 * Call `onChange` (debounced) when a file changes, including when it is
 * replaced by rename (editors, ConfigMap updates). Returns a stop function.
 */
export function watchFile(path: string, onChange: () => void, debounceMs = 50): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const fire = () => {
    if (timer) clearTimeout(timer);
    timer = setTimeout(onChange, debounceMs);
  };
  // fs.watchFile polls stat: it survives rename-replacement, which fs.watch does not.
  let stop = () => {};
  void import('node:fs').then(({ watchFile: watch, unwatchFile }) => {
    const listener = (cur: { mtimeMs: number; size: number; ino: number }, prev: { mtimeMs: number; size: number; ino: number }) => {
      if (cur.mtimeMs !== prev.mtimeMs || cur.size !== prev.size || cur.ino !== prev.ino) fire();
    };
    watch(path, { interval: 250, persistent: false }, listener);
    stop = () => unwatchFile(path, listener);
  });
  return () => {
    if (timer) clearTimeout(timer);
    stop();
  };
}

// ---- Connect with plain gRPC over HTTP/2 (h2c) next to HTTP/1.1 on one port ----

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

/**
 * The compiled scheduling kernel, build/kernel.wasm (`npm run build:kernel`),
 * found relative to this file. Throws with what to run when it is missing.
 */
export async function loadKernelModule(url = new URL('../../../build/kernel.wasm', import.meta.url)): Promise<WebAssembly.Module> {
  const { readFile } = await import('node:fs/promises');
  let bytes: Uint8Array<ArrayBuffer>;
  try {
    bytes = new Uint8Array(await readFile(url));
  } catch (err) {
    throw new Error(`cannot read the scheduling kernel ${url.pathname} (run \`npm run build:kernel\`): ${(err as Error).message}`);
  }
  return WebAssembly.compile(bytes);
}
