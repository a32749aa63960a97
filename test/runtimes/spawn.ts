/**
 * Start a gateway as a child process (Deno, wrangler dev) and learn where it
 * listens from its output; stop it by its own pid (and its process group).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';
import { join } from 'node:path';

export interface Child {
  process: ChildProcess;
  /** Everything it printed so far (for failure messages). */
  output(): string;
  /** Resolves with the first match of `pattern` in its output. */
  waitFor(pattern: RegExp, timeoutMs: number): Promise<RegExpMatchArray>;
  stop(): Promise<void>;
}

export function startChild(command: string, args: string[], env: Record<string, string | undefined>, cwd: string): Child {
  const child = spawn(command, args, { cwd, env: { ...process.env, ...env } as NodeJS.ProcessEnv, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let out = '';
  const listeners = new Set<() => void>();
  const onData = (chunk: Buffer) => {
    out += chunk.toString();
    for (const l of listeners) l();
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    process: child,
    output: () => out,
    waitFor(pattern, timeoutMs) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const m = out.match(pattern);
          if (m) {
            cleanup();
            resolve(m);
          } else if (child.exitCode !== null) {
            cleanup();
            reject(new Error(`${command} exited (${child.exitCode}) before printing ${pattern}:\n${out}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${command}: no ${pattern} after ${timeoutMs} ms:\n${out}`));
        }, timeoutMs);
        const cleanup = () => {
          clearTimeout(timer);
          listeners.delete(check);
          child.off('exit', check);
        };
        listeners.add(check);
        child.on('exit', check);
        check();
      });
    },
    async stop() {
      if (child.exitCode !== null || child.pid === undefined) return;
      try {
        process.kill(-child.pid, 'SIGTERM');
      } catch {
        child.kill('SIGTERM');
      }
      const killed = await Promise.race([exited.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 5000))]);
      if (!killed) {
        try {
          process.kill(-child.pid, 'SIGKILL');
        } catch {
          child.kill('SIGKILL');
        }
        await exited;
      }
    },
  };
}

/** A TCP port free right now on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

export const ROOT = new URL('../../', import.meta.url).pathname;

/**
 * The gateway on Deno (src/runtime/deno/main.ts as a process) with the
 * manifests and endpoints in `dir`; resolves once it says where it listens.
 */
export async function startDenoGateway(dir: string, args: string[], env: Record<string, string | undefined> = {}): Promise<{ child: Child; url: string }> {
  const child = startChild(
    `${ROOT}node_modules/.bin/deno`,
    ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-write', 'src/runtime/deno/main.ts', '--port', '0', '--admin-port', '-1', '--manifests', join(dir, 'manifests.yaml'), '--endpoints', join(dir, 'endpoints.json'), ...args],
    { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1', ...env },
    ROOT,
  );
  return { child, url: (await child.waitFor(/"url":"(http:\/\/[^"]+)"/, 30_000))[1]! };
}
