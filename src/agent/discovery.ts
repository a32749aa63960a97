/**
 * Discovery from the endpoints file: read it, validate it, hand the entries
 * to the agent, and again whenever the file changes. A broken edit keeps the
 * previous entries (and says why) rather than dropping every pod.
 */
import { parseEndpointsFile } from '../endpoints/file-schema.ts';
import { formatProblem } from '../routing/problems.ts';
import type { MetricsAgent } from './agent.ts';

export interface FileAccess {
  readFileText(path: string): Promise<string | undefined>;
  watchFile(path: string, onChange: () => void): () => void;
}

export interface FileDiscovery {
  /** Why the last read failed, if it did. */
  readonly problem: string | undefined;
  reload(): Promise<boolean>;
  stop(): void;
}

/** The endpoints file could not be read, or is invalid, at startup: `message` says which and why. */
export class EndpointsFileError extends Error {}

export async function startFileDiscovery(
  agent: MetricsAgent,
  path: string,
  files: FileAccess,
  log: (line: Record<string, unknown>) => void = () => {},
): Promise<FileDiscovery> {
  let problem: string | undefined;
  // At startup there are no previous endpoints to keep: the caller says the problem (EndpointsFileError), once.
  let loaded = false;
  const reload = async (): Promise<boolean> => {
    let text: string | undefined;
    let unreadable: string | undefined;
    try {
      text = await files.readFileText(path);
    } catch (err) {
      unreadable = `cannot read ${path}: ${(err as Error).message}`;
    }
    if (text === undefined) {
      // This look's reason, not an earlier one's (a file found invalid, then deleted, is said not to exist).
      problem = unreadable ?? `${path} does not exist`;
      if (loaded) log({ level: 'warn', msg: 'endpoints file unreadable, keeping previous endpoints', problem });
      return false;
    }
    const parsed = parseEndpointsFile(text, path);
    if (!parsed.ok) {
      problem = parsed.problems.map(formatProblem).join('; ');
      if (loaded) log({ level: 'warn', msg: 'endpoints file invalid, keeping previous endpoints', problem });
      return false;
    }
    loaded = true;
    problem = undefined;
    agent.setEntries(parsed.endpoints);
    log({ level: 'info', msg: 'endpoints loaded', path, endpoints: parsed.endpoints.length });
    return true;
  };
  const ok = await reload();
  if (!ok) throw new EndpointsFileError(problem!);
  const stop = files.watchFile(path, () => void reload());
  return {
    get problem() {
      return problem;
    },
    reload,
    stop,
  };
}
