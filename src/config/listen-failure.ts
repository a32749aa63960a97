/**
 * A server that could not listen (a port in use, a privileged port, an
 * address not this machine's) is a startup error said in one line, with what
 * to do — not a crash with a stack. Every command that listens uses it.
 */

/** What each listen failure means (Node's codes; Deno's own errors by name — not its PermissionDenied, which is also a missing --allow-net). */
const LISTEN_FAILURES: Record<string, string> = {
  EADDRINUSE: 'the address is already in use (another process listens there)',
  AddrInUse: 'the address is already in use (another process listens there)',
  EACCES: 'permission denied (ports below 1024 need privileges)',
  EADDRNOTAVAIL: 'the address is not one of this machine’s',
  AddrNotAvailable: 'the address is not one of this machine’s',
  ENOTFOUND: 'the host name does not resolve',
  EAI_AGAIN: 'the host name does not resolve (the resolver did not answer)',
};

/**
 * A server that could not listen, said in one line (a port in use is not a
 * crash); undefined for any other error. `at`: where it was asked to listen,
 * for an error that does not say.
 */
export function listenFailure(err: unknown, at?: { host?: string; port?: number }): string | undefined {
  const e = err as { code?: unknown; name?: unknown; address?: unknown; hostname?: unknown; port?: unknown; syscall?: unknown } | undefined;
  const key = typeof e?.code === 'string' && e.code in LISTEN_FAILURES ? e.code : typeof e?.name === 'string' && e.name in LISTEN_FAILURES ? e.name : undefined;
  const resolving = e?.syscall === 'getaddrinfo';
  if (key === undefined || (e?.syscall !== undefined && e.syscall !== 'listen' && e.syscall !== 'bind' && !resolving)) return undefined;
  const port = typeof e?.port === 'number' ? e.port : at?.port;
  const named = resolving ? e?.hostname : e?.address;
  const host = typeof named === 'string' ? named : (at?.host ?? '');
  const where = port !== undefined ? ` on ${host}:${port}` : '';
  const what = resolving ? 'give an address or a name this machine resolves (--host)' : 'choose another port, or stop what holds it';
  return `cannot listen${where}: ${LISTEN_FAILURES[key]} (${key}); ${what}`;
}

/** What each file failure means. */
const FILE_FAILURES: Record<string, string> = {
  EISDIR: 'is a directory, not a file',
  ENOTDIR: 'a part of the path is a file, not a directory',
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOENT: 'does not exist',
  ELOOP: 'too many symbolic links',
  EEXIST: 'exists, and is not a directory',
};

/**
 * What a state dir's failure means where a file's does not say it: mkdir's ENOENT (its parent was there, and
 * took no new directory), and what only writing meets.
 */
const STATE_DIR_FAILURES: Record<string, string> = {
  ENOENT: 'cannot be created there',
  EROFS: 'read-only file system',
  ENOSPC: 'no space left on the device',
  EDQUOT: 'disk quota exceeded',
};

/**
 * Why a state dir cannot be used, in one line with what to do: `err` is the runtime's error (a Node or Deno
 * error with its `code`, `syscall` and `path` where it has them), `doing` what failed when not the creating.
 */
export function stateDirFailure(err: unknown, dir: string, doing = ''): string {
  const e = err as { code?: unknown; path?: unknown; syscall?: unknown; message?: unknown } | undefined;
  const code = typeof e?.code === 'string' ? e.code : undefined;
  const what = (code && (STATE_DIR_FAILURES[code] ?? FILE_FAILURES[code])) || String(e?.message ?? err);
  const syscall = typeof e?.syscall === 'string' ? `, ${e.syscall}` : '';
  return `${typeof e?.path === 'string' ? e.path : dir}: ${doing}${what}${code ? ` (${code}${syscall})` : ''}; give a directory this user can create and write in`;
}

/**
 * A file the command was given that cannot be used as one (a directory, a
 * path through a file, no permission), said in one line; undefined for any
 * other error.
 */
export function fileFailure(err: unknown): string | undefined {
  const e = err as { code?: unknown; path?: unknown; syscall?: unknown } | undefined;
  if (typeof e?.code !== 'string' || !(e.code in FILE_FAILURES) || typeof e.path !== 'string' || e.syscall === 'listen' || e.syscall === 'connect') return undefined;
  return `${e.path}: ${FILE_FAILURES[e.code]} (${e.code}${typeof e.syscall === 'string' ? `, ${e.syscall}` : ''})`;
}

/** A startup error a user's setup causes — a server that cannot listen, a file that cannot be used — in one line. */
export function startupFailure(err: unknown, at?: { host?: string; port?: number }): string | undefined {
  return listenFailure(err, at) ?? fileFailure(err);
}
