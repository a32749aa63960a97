/**
 * The few Deno APIs the Deno entry uses, typed here so that `tsc` (which runs
 * with Node's types) checks src/runtime/deno*.ts without Deno's lib. Only
 * files under src/runtime/ may touch them.
 */
export interface DenoFile {
  write(data: Uint8Array): Promise<number>;
  sync(): Promise<void>;
  close(): void;
}

export interface DenoFsEvent {
  kind: string;
  paths: string[];
}

export interface DenoServer {
  finished: Promise<void>;
  addr: { hostname: string; port: number };
  shutdown(): Promise<void>;
}

export interface DenoApi {
  args: string[];
  pid: number;
  env: { toObject(): Record<string, string> };
  readTextFile(path: string | URL): Promise<string>;
  readFile(path: string | URL): Promise<Uint8Array>;
  open(path: string, options?: { read?: boolean; write?: boolean; create?: boolean; createNew?: boolean; truncate?: boolean; append?: boolean; mode?: number }): Promise<DenoFile>;
  remove(path: string): Promise<void>;
  stdout: { write(data: Uint8Array): Promise<number> };
  rename(from: string, to: string): Promise<void>;
  mkdir(path: string, options?: { recursive?: boolean }): Promise<void>;
  realPath(path: string): Promise<string>;
  watchFs(paths: string | string[], options?: { recursive: boolean }): AsyncIterable<DenoFsEvent> & { close(): void };
  serve(
    options: { port: number; hostname: string; signal?: AbortSignal; onListen?: (addr: { hostname: string; port: number }) => void },
    handler: (request: Request, info: { completed?: Promise<void>; remoteAddr?: { hostname?: string } }) => Response | Promise<Response>,
  ): DenoServer;
  addSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  removeSignalListener(signal: 'SIGINT' | 'SIGTERM', handler: () => void): void;
  exit(code?: number): never;
  errors: { NotFound: new (...args: never[]) => Error };
}

/** The Deno namespace; throws outside Deno. */
export function deno(): DenoApi {
  const d = (globalThis as { Deno?: DenoApi }).Deno;
  if (!d) throw new Error('src/runtime/deno*.ts runs under Deno only');
  return d;
}
