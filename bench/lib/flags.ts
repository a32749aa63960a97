/**
 * The benchmarks' command-line flags, read one way: `--name value` for a
 * value, `--name` alone for a switch. `--quick` (a short smoke run) is also
 * set by INFERGATE_BENCH_QUICK=1, which `npm run bench -- --quick` passes to
 * every benchmark it starts.
 *
 * @example
 * const flags = readFlags();
 * const pods = flags.number('pods', flags.quick ? 8 : 200);
 */

export interface Flags {
  /** `--quick` or INFERGATE_BENCH_QUICK=1. */
  readonly quick: boolean;
  /** The switch `--name` is present. */
  has(name: string): boolean;
  /** The value after `--name`, or undefined when the flag is absent. */
  string(name: string): string | undefined;
  /** `--name N` as a number, else `fallback`. */
  number(name: string, fallback: number): number;
  /** `--name N` as a number, or undefined when absent. */
  optionalNumber(name: string): number | undefined;
  /** `--name a,b,c`, or undefined when absent. */
  list(name: string): string[] | undefined;
  /** `--name 0.5,0.8`, or undefined when absent. */
  numbers(name: string): number[] | undefined;
}

/** A bad flag: the message says what to pass instead; benchmarks exit with status 2. */
export class UsageError extends Error {}

export function readFlags(argv: readonly string[] = process.argv.slice(2), env: NodeJS.ProcessEnv = process.env): Flags {
  const value = (name: string): string | undefined => {
    const i = argv.indexOf(`--${name}`);
    if (i < 0) return undefined;
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`--${name} needs a value`);
    return v;
  };
  const toNumber = (name: string, v: string): number => {
    const n = Number(v);
    if (v.trim() === '' || !Number.isFinite(n)) throw new UsageError(`--${name} needs a number, not "${v}"`);
    return n;
  };
  const list = (name: string) => value(name)?.split(',').map((s) => s.trim()).filter(Boolean);
  return {
    quick: argv.includes('--quick') || env.INFERGATE_BENCH_QUICK === '1',
    has: (name) => argv.includes(`--${name}`),
    string: value,
    number(name, fallback) {
      const v = value(name);
      return v === undefined ? fallback : toNumber(name, v);
    },
    optionalNumber(name) {
      const v = value(name);
      return v === undefined ? undefined : toNumber(name, v);
    },
    list,
    numbers: (name) => list(name)?.map((v) => toNumber(name, v)),
  };
}

/** Prints the message and exits with status 2 (a usage error, not a failed measurement). */
export function failUsage(message: string): never {
  console.error(message);
  process.exit(2);
}

/**
 * Runs a benchmark's main function: a UsageError prints its message and
 * exits 2; anything else is rethrown (a crash with its stack).
 */
export async function runBench(main: () => Promise<void> | void): Promise<void> {
  try {
    await main();
  } catch (err) {
    if (err instanceof UsageError) failUsage(err.message);
    throw err;
  }
}
