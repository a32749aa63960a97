/** Files on Node: the state dir, the endpoints file, manifests; watched for changes. */
import { stateDirFailure } from '../../config/listen-failure.ts';

/** Read a whole text file (UTF-8). */
export async function readTextFile(path: string): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  return readFile(path, 'utf8');
}

/** A file's text, or undefined when it does not exist. */
export async function readFileText(path: string): Promise<string | undefined> {
  const { readFile } = await import('node:fs/promises');
  try {
    return await readFile(path, 'utf8');
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ENOENT') return undefined;
    // Node's error for a directory names no path: the caller's message needs it.
    if (e.path === undefined) e.path = path;
    throw err;
  }
}

/**
 * Make a directory and its missing parents. Not `mkdir(dir, { recursive: true })`: Node's (20) never settles, looping
 * at full CPU, on a directory whose existing parent refuses it with ENOENT (`/proc/nope`) — an apply waiting on it
 * never ended, nor did a graceful shutdown waiting on the apply. Here each level is tried at most twice, and the
 * error (with its code, syscall and path) is thrown.
 */
export async function makeDirectory(dir: string): Promise<void> {
  const { mkdir, stat } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const isDirectory = async () => (await stat(dir).catch(() => undefined))?.isDirectory() === true;
  try {
    await mkdir(dir);
    return;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST' && (await isDirectory())) return;
    const parent = dirname(dir);
    if (code !== 'ENOENT' || parent === dir) throw err;
    await makeDirectory(parent);
  }
  // The parent is there now; a second refusal (a filesystem that takes no new directory) is the answer.
  try {
    await mkdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST' && (await isDirectory())) return;
    throw err;
  }
}

/**
 * Why `dir` cannot be the gateway's state dir — it cannot be created, or nothing can be written in it — said in one
 * line with what to do; undefined when it can (it is then created). Checked at startup, so that the first apply is
 * not where it is found out.
 */
export async function stateDirProblem(dir: string): Promise<string | undefined> {
  const { open, unlink } = await import('node:fs/promises');
  const { join } = await import('node:path');
  try {
    await makeDirectory(dir);
  } catch (err) {
    return stateDirFailure(err, dir);
  }
  // Unique per run: one left by a run killed between the open and the unlink (pid 1 again, in a container) is no obstacle.
  const probe = join(dir, `.infergate-write-check-${process.pid}-${crypto.randomUUID()}`);
  try {
    await (await open(probe, 'wx', 0o600)).close();
  } catch (err) {
    return stateDirFailure(Object.assign(err as NodeJS.ErrnoException, { path: dir }), dir, 'cannot write in it: ');
  }
  await unlink(probe).catch(() => undefined);
  return undefined;
}

/** Replace a file whole: write a temporary file, fsync it, rename it over the old one, fsync the directory. */
export async function writeFileAtomic(path: string, text: string): Promise<void> {
  const { open, rename, unlink } = await import('node:fs/promises');
  const { dirname } = await import('node:path');
  const dir = dirname(path);
  await makeDirectory(dir);
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const file = await open(tmp, 'w', 0o600);
  try {
    await file.writeFile(text, 'utf8');
    await file.sync();
  } finally {
    await file.close();
  }
  // A failed rename (the target is a directory) leaves no temporary file behind.
  await rename(tmp, path).catch(async (err: unknown) => {
    await unlink(tmp).catch(() => undefined);
    throw err;
  });
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

/** The files a gateway or agent reads and writes, as the core's FileAccess port wants them. */
export const nodeFiles = { readFileText, watchFile, writeFileAtomic };
