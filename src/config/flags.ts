/**
 * Flags for every command: `--name value`, `--name=value`, `--bool`,
 * `--bool=false`, and the same names as environment variables
 * (`--body-limit` ↔ `INFERGATE_BODY_LIMIT`). Flags win over the environment.
 * A flag is given once, unless its spec says `repeated` (kubectl's `-f`, whose
 * every value is applied); a second value of any other flag is an error, not a
 * silent replacement of the first. A flag that takes a value, followed by another
 * flag (`-n --server URL`) or by nothing, is an error as kubectl's (`flag needs an
 * argument: -n`), not a value taken from the next flag; a value that starts with
 * `-` goes after `=` (a lone `-`, standard input, and a number flag's negative
 * number need not).
 */
export interface FlagDef {
  type: 'string' | 'number' | 'boolean';
  default?: string | number | boolean;
  help: string;
  /** A string flag that may be given more than once: its values are collected in order (`-f a.yaml -f b.yaml`). */
  repeated?: boolean;
  /** A number flag's bounds (inclusive), and whether it must be whole: a value outside is refused, named. */
  min?: number;
  max?: number;
  integer?: boolean;
}

/** A port: 0 picks a free one. */
export const PORT = { integer: true, min: 0, max: 65535 } as const;
/** A duration in ms that a timer takes (setTimeout's longest delay). */
export const TIMER_MS = { min: 1, max: 2 ** 31 - 1 } as const;

export interface FlagSpec {
  [name: string]: FlagDef;
}

export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]: S[K] extends { repeated: true } ? string[] : S[K]['type'] extends 'number' ? number : S[K]['type'] extends 'boolean' ? boolean : string;
};

export class FlagError extends Error {}

export function envName(flag: string): string {
  return `INFERGATE_${flag.replace(/-/g, '_').toUpperCase()}`;
}

const TRUE = /^(?:true|1)$/i;
const FALSE = /^(?:false|0)$/i;

/** A boolean's value as a flag or environment variable gives it: true/1, false/0 (any case); anything else is refused, naming where it came from. */
function parseBoolean(value: string, source: string): boolean {
  if (TRUE.test(value)) return true;
  if (FALSE.test(value)) return false;
  throw new FlagError(`${source} must be true, false, 1 or 0, got "${value}"`);
}

/**
 * Whether a token is a flag, not a value: it starts with `-`, except a lone `-` (standard input) and, for a number
 * flag, a negative number (`--admin-port -1`).
 */
export function isFlagToken(token: string, def?: Pick<FlagDef, 'type'>): boolean {
  if (token.length < 2 || !token.startsWith('-')) return false;
  return !(def?.type === 'number' && /^-\.?\d/.test(token));
}

/**
 * The value of the flag `shown` at `args[i]`, given as the next argument: there must be one, and not another
 * flag (`get -n --server URL` is a namespace left out, not one called "--server"), as kubectl's pflag says it.
 */
export function valueAfter(args: readonly string[], i: number, shown: string, def?: Pick<FlagDef, 'type'>): string {
  const next = args[i + 1];
  if (next === undefined) throw new FlagError(`flag needs an argument: ${shown}`);
  if (isFlagToken(next, def)) throw new FlagError(`flag needs an argument: ${shown} (it is followed by the flag ${next.split('=')[0]}; a value that starts with "-" goes after "=": ${shown}=VALUE)`);
  return next;
}

export function parseFlags<S extends FlagSpec>(args: string[], spec: S, env: Record<string, string | undefined> = {}): FlagValues<S> & { _: string[] } {
  const raw: Record<string, string | true | string[]> = {};
  const positional: string[] = [];
  const put = (name: string, value: string | true) => {
    if (spec[name]!.repeated) {
      ((raw[name] ??= []) as string[]).push(value as string);
      return;
    }
    if (name in raw) throw new FlagError(`--${name} was given more than once; it takes one value`);
    raw[name] = value;
  };
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    // kubectl's short forms: -f FILE (or -f=FILE) for --file, -h for --help.
    if ((arg === '-f' || arg.startsWith('-f=')) && 'file' in spec) {
      const value = arg === '-f' ? valueAfter(args, i++, '-f', spec.file!) : arg.slice(3);
      if (value === '') throw new FlagError('-f needs a file');
      put('file', value);
      continue;
    }
    if (arg === '-h' && 'help' in spec) {
      put('help', true);
      continue;
    }
    if (!arg.startsWith('--')) {
      // `-` is standard input and `-1` a number; any other `-x` is a flag this command does not have (kubectl refuses it too).
      if (arg.length > 1 && arg.startsWith('-') && !/^-\d/.test(arg)) throw new FlagError(`unknown flag ${arg.split('=')[0]}`);
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const def = spec[name];
    if (!def) throw new FlagError(`unknown flag --${name}`);
    if (def.type === 'boolean') {
      // As in kubectl (pflag), a boolean's value follows "="; `--explain 0` would leave the flag on and "0" an argument.
      const next = args[i + 1];
      if (eq < 0 && next !== undefined && (TRUE.test(next) || FALSE.test(next))) throw new FlagError(`--${name} takes its value after "=": --${name}=${next}`);
      put(name, eq >= 0 ? arg.slice(eq + 1) : true);
    } else {
      const value = eq >= 0 ? arg.slice(eq + 1) : valueAfter(args, i++, `--${name}`, def);
      put(name, value);
    }
  }
  const out: Record<string, unknown> = { _: positional };
  for (const [name, def] of Object.entries(spec)) {
    const fromFlag = raw[name];
    // An empty variable (a template's unset value) is not set: an empty INFERGATE_HOST is not every interface, nor
    // an empty INFERGATE_PORT port 0. Other values must read as the flag's type.
    const fromEnv = env[envName(name)] === '' ? undefined : env[envName(name)];
    if (def.repeated) {
      out[name] = (fromFlag as string[] | undefined) ?? (fromEnv !== undefined ? [fromEnv] : def.default !== undefined ? [String(def.default)] : []);
      continue;
    }
    const given = (fromFlag as string | true | undefined) ?? fromEnv;
    if (given === undefined) {
      out[name] = def.default ?? (def.type === 'boolean' ? false : undefined);
      continue;
    }
    const source = fromFlag !== undefined ? `--${name}` : `${envName(name)} (--${name})`;
    if (def.type === 'number') {
      const n = Number(given);
      if (!Number.isFinite(n) || (typeof given === 'string' && given.trim() === '')) throw new FlagError(`${source} must be a number, got "${given}"`);
      if (def.integer && !Number.isInteger(n)) throw new FlagError(`${source} must be a whole number, got ${given}`);
      if ((def.min !== undefined && n < def.min) || (def.max !== undefined && n > def.max)) {
        throw new FlagError(`${source} must be ${def.max === undefined ? `at least ${def.min}` : def.min === undefined ? `at most ${def.max}` : `from ${def.min} to ${def.max}`}, got ${given}`);
      }
      out[name] = n;
    } else if (def.type === 'boolean') {
      out[name] = given === true || parseBoolean(given, source);
    } else {
      out[name] = String(given);
    }
  }
  return out as FlagValues<S> & { _: string[] };
}

export function usage(command: string, spec: FlagSpec): string {
  const lines = Object.entries(spec).map(([n, d]) => {
    const dflt = d.default !== undefined && d.default !== '' ? ` (default ${d.default})` : '';
    return `  --${n.padEnd(18)} ${d.help}${dflt}${d.repeated ? ' (may be repeated)' : ''}  [$${envName(n)}]`;
  });
  return `usage: infergate ${command} [flags]\n\n${lines.join('\n')}`;
}

/**
 * A command's flags, or the exit code when there is nothing more to do: a bad
 * flag (usage on stderr, 2) or `--help` (usage on stdout, 0). `check` may
 * throw FlagError for what the spec alone cannot say (a required flag).
 */
export function commandFlags<S extends FlagSpec>(
  command: string,
  args: string[],
  spec: S,
  env: Record<string, string | undefined>,
  options: {
    check?: (flags: FlagValues<S> & { _: string[] }) => void;
    help?: string;
    /** The arguments as the spec reads them (kubectl's `-n NS` as `--namespace=NS`); may throw FlagError too. */
    translate?: (args: string[]) => string[];
  } = {},
): (FlagValues<S> & { _: string[] }) | number {
  const help = options.help ?? usage(command, spec);
  let flags;
  try {
    flags = parseFlags(options.translate ? options.translate(args) : args, spec, env);
    if (!(flags as { help?: boolean }).help) options.check?.(flags);
  } catch (err) {
    if (!(err instanceof FlagError)) throw err;
    console.error(`infergate ${command.split(' ')[0]}: ${err.message}\n\n${help}`);
    return 2;
  }
  if ((flags as { help?: boolean }).help) {
    console.log(help);
    return 0;
  }
  return flags;
}
