/** The Node process: environment, CPUs, signals. */
import { availableParallelism } from 'node:os';

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
