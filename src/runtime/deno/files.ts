/**
 * Files on Deno: the state dir (atomic replace with fsync) and the endpoints
 * file (read, and watched through its directory so that a replacement by
 * rename — editors, ConfigMap updates — is seen too).
 */
import { deno } from './api.ts';
import { stateDirFailure } from '../../config/listen-failure.ts';

/** A file's text, or undefined when it does not exist. */
export async function readFileText(path: string): Promise<string | undefined> {
  try {
    return await deno().readTextFile(path);
  } catch (err) {
    if (err instanceof deno().errors.NotFound) return undefined;
    throw err;
  }
}

/**
 * Why `dir` cannot be the gateway's state dir — it cannot be created, or nothing can be written in it — in one
 * line with what to do; undefined when it can (it is then created). Checked at startup, as on Node
 * (src/runtime/node/files.ts), so that the first apply is not where it is found out.
 */
export async function stateDirProblem(dir: string): Promise<string | undefined> {
  const d = deno();
  try {
    await d.mkdir(dir, { recursive: true });
  } catch (err) {
    return stateDirFailure(err, dir);
  }
  // Unique per run: one left by a run killed between the open and the remove (pid 1 again, in a container) is no obstacle.
  const probe = `${dir.replace(/\/+$/, '')}/.infergate-write-check-${d.pid}-${crypto.randomUUID()}`;
  try {
    (await d.open(probe, { write: true, createNew: true, mode: 0o600 })).close();
  } catch (err) {
    return stateDirFailure(err, dir, 'cannot write in it: ');
  }
  await d.remove(probe).catch(() => undefined);
  return undefined;
}

/** Replace a file whole: write a temporary file, fsync it, rename it over the old one, fsync the directory. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const d = deno();
  const dir = dirname(path);
  // Said as Node's is (which Deno's errors are not): the directory could not be made, not the file written.
  await d.mkdir(dir, { recursive: true }).catch((err: unknown) => {
    throw Object.assign(err as Error, { syscall: 'mkdir', path: dir });
  });
  const tmp = `${path}.tmp-${d.pid}-${Date.now()}`;
  const file = await d.open(tmp, { write: true, create: true, truncate: true, mode: 0o600 });
  try {
    await writeAll(file, new TextEncoder().encode(text));
    await file.sync();
  } finally {
    file.close();
  }
  // A failed rename (the target is a directory) leaves no temporary file behind.
  await d.rename(tmp, path).catch(async (err: unknown) => {
    await d.remove(tmp).catch(() => undefined);
    throw err;
  });
  const handle = await d.open(dir, { read: true }).catch(() => undefined);
  if (handle) {
    await handle.sync().catch(() => undefined); // not every filesystem syncs directories
    handle.close();
  }
}

async function writeAll(file: { write(data: Uint8Array): Promise<number> }, bytes: Uint8Array): Promise<void> {
  let at = 0;
  while (at < bytes.byteLength) at += await file.write(bytes.subarray(at));
}

/** Call `onChange` (debounced) when the file changes or is replaced. Returns a stop function. */
export function watchFile(path: string, onChange: () => void, debounceMs = 50): () => void {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let stopped = false;
  const name = path.slice(path.lastIndexOf('/') + 1);
  const watcher = deno().watchFs(dirname(path), { recursive: false });
  void (async () => {
    try {
      for await (const event of watcher) {
        if (stopped) break;
        if (!event.paths.some((p) => p.endsWith(`/${name}`))) continue;
        if (timer) clearTimeout(timer);
        timer = setTimeout(onChange, debounceMs);
      }
    } catch (err) {
      if (!stopped) console.error(JSON.stringify({ level: 'warn', msg: 'file watch ended', path, error: String(err) }));
    }
  })();
  return () => {
    stopped = true;
    if (timer) clearTimeout(timer);
    watcher.close();
  };
}

function dirname(path: string): string {
  const i = path.lastIndexOf('/');
  return i > 0 ? path.slice(0, i) : i === 0 ? '/' : '.';
}
