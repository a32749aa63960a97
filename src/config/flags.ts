/**
 * Flags for every command: `--name value`, `--name=value`, `--bool`, and the
 * same names as environment variables (`--body-limit` ↔ `INFERGATE_BODY_LIMIT`).
 * Flags win over the environment.
 */
export interface FlagSpec {
  [name: string]: { type: 'string' | 'number' | 'boolean'; default?: string | number | boolean; help: string };
}

export type FlagValues<S extends FlagSpec> = {
  [K in keyof S]: S[K]['type'] extends 'number' ? number : S[K]['type'] extends 'boolean' ? boolean : string;
};

export class FlagError extends Error {}

export function envName(flag: string): string {
  return `INFERGATE_${flag.replace(/-/g, '_').toUpperCase()}`;
}

export function parseFlags<S extends FlagSpec>(args: string[], spec: S, env: Record<string, string | undefined> = {}): FlagValues<S> & { _: string[] } {
  const raw: Record<string, string | boolean> = {};
  const positional: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const arg = args[i]!;
    if (arg === '-f' && 'file' in spec) {
      const value = args[++i];
      if (value === undefined) throw new FlagError('-f needs a file');
      raw.file = value;
      continue;
    }
    if (!arg.startsWith('--')) {
      positional.push(arg);
      continue;
    }
    const eq = arg.indexOf('=');
    const name = eq >= 0 ? arg.slice(2, eq) : arg.slice(2);
    const def = spec[name];
    if (!def) throw new FlagError(`unknown flag --${name}`);
    if (def.type === 'boolean') {
      raw[name] = eq >= 0 ? arg.slice(eq + 1) !== 'false' : true;
    } else {
      const value = eq >= 0 ? arg.slice(eq + 1) : args[++i];
      if (value === undefined) throw new FlagError(`--${name} needs a value`);
      raw[name] = value;
    }
  }
  const out: Record<string, unknown> = { _: positional };
  for (const [name, def] of Object.entries(spec)) {
    const given = raw[name] ?? env[envName(name)];
    if (given === undefined) {
      out[name] = def.default ?? (def.type === 'boolean' ? false : undefined);
      continue;
    }
    if (def.type === 'number') {
      const n = Number(given);
      if (!Number.isFinite(n)) throw new FlagError(`--${name} must be a number, got "${given}"`);
      out[name] = n;
    } else if (def.type === 'boolean') {
      out[name] = given === true || given === 'true' || given === '1';
    } else {
      out[name] = String(given);
    }
  }
  return out as FlagValues<S> & { _: string[] };
}

export function usage(command: string, spec: FlagSpec): string {
  const lines = Object.entries(spec).map(([n, d]) => {
    const dflt = d.default !== undefined && d.default !== '' ? ` (default ${d.default})` : '';
    return `  --${n.padEnd(18)} ${d.help}${dflt}  [$${envName(n)}]`;
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
  options: { check?: (flags: FlagValues<S> & { _: string[] }) => void; help?: string } = {},
): (FlagValues<S> & { _: string[] }) | number {
  const help = options.help ?? usage(command, spec);
  let flags;
  try {
    flags = parseFlags(args, spec, env);
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
