import { describe, expect, it } from 'vitest';
import { applyFlags } from '../cli/commands/apply.ts';
import { getFlags, kubectlFlags } from '../cli/commands/get.ts';
import { FlagError, parseFlags, usage, type FlagSpec } from './flags.ts';
import { gatewayFlags, gatewayOptions } from './gateway-flags.ts';

const gateway = (args: string[], env: Record<string, string> = {}) => gatewayOptions(parseFlags(args, gatewayFlags, env), undefined);

describe('parseFlags', () => {
  it('collects every -f (and --file), as kubectl applies every one', () => {
    expect(parseFlags(['-f', 'a.yaml', '-f', 'b.yaml', '--file', 'c.yaml', '-f=d.yaml'], applyFlags).file).toEqual(['a.yaml', 'b.yaml', 'c.yaml', 'd.yaml']);
    expect(parseFlags([], applyFlags).file).toEqual([]);
    expect(parseFlags([], applyFlags, { INFERGATE_FILE: 'e.yaml' }).file).toEqual(['e.yaml']);
    expect(usage('apply', applyFlags)).toMatch(/--file .*\(may be repeated\)/);
  });

  it('refuses a flag that takes one value given twice, naming it, rather than keeping the last', () => {
    expect(() => parseFlags(['--manifests', 'a.yaml', '--manifests', 'b.yaml'], gatewayFlags)).toThrow(new FlagError('--manifests was given more than once; it takes one value'));
    expect(() => parseFlags(['--port=1', '--port', '2'], gatewayFlags)).toThrow(/--port was given more than once/);
    expect(() => parseFlags(['--explain', '--explain=false'], gatewayFlags)).toThrow(/--explain was given more than once/);
  });

  it('reads booleans as true/1 and false/0 in any case, from flags and the environment alike', () => {
    for (const off of ['0', 'false', 'FALSE', 'False']) {
      expect(gateway([`--explain=${off}`]).explainHeader, off).toBe(false);
      expect(gateway([`--dashboard=${off}`]).dashboard, off).toBe(false);
      expect(gateway([], { INFERGATE_EXPLAIN: off }).explainHeader, off).toBe(false);
    }
    for (const on of ['1', 'true', 'TRUE']) {
      expect(gateway([`--kv-events=${on}`]).kvEvents, on).toBe(true);
      expect(gateway([], { INFERGATE_KV_EVENTS: on }).kvEvents, on).toBe(true);
    }
    expect(gateway(['--kv-events']).kvEvents).toBe(true);
    expect(gateway([]).explainHeader).toBe(true);
    // The flag wins over the environment.
    expect(gateway(['--explain=1'], { INFERGATE_EXPLAIN: '0' }).explainHeader).toBe(true);
    // An empty variable (a template's unset value) is not set: the default.
    expect(gateway([], { INFERGATE_EXPLAIN: '', INFERGATE_KV_EVENTS: '' })).toMatchObject({ explainHeader: true, kvEvents: false });
  });

  it('refuses any other boolean value, naming the flag or the variable', () => {
    expect(() => gateway(['--explain=no'])).toThrow(new FlagError('--explain must be true, false, 1 or 0, got "no"'));
    expect(() => gateway(['--dashboard='])).toThrow(/--dashboard must be true, false, 1 or 0, got ""/);
    expect(() => gateway([], { INFERGATE_DASHBOARD: 'off' })).toThrow(new FlagError('INFERGATE_DASHBOARD (--dashboard) must be true, false, 1 or 0, got "off"'));
  });

  it('refuses a boolean whose value follows a space, which would leave it on', () => {
    expect(() => parseFlags(['--explain', '0'], gatewayFlags)).toThrow(new FlagError('--explain takes its value after "=": --explain=0'));
  });

  it('refuses single-dash flags the command does not have, and reads -h as --help', () => {
    expect(() => parseFlags(['-o', 'yaml'], gatewayFlags)).toThrow(new FlagError('unknown flag -o'));
    expect(parseFlags(['-h'], gatewayFlags).help).toBe(true);
    // `-` (standard input) and negative numbers stay arguments and values.
    expect(parseFlags(['-f', '-'], applyFlags).file).toEqual(['-']);
    expect(parseFlags(['--admin-port', '-1'], gatewayFlags)['admin-port']).toBe(-1);
  });

  it('refuses a flag that needs a value followed by another flag, as kubectl: every value flag of apply, get and describe', () => {
    const { output: _output, ...describeFlags } = getFlags; // as describe has them: no -o
    const commands: Array<[string, FlagSpec, (args: string[]) => string[]]> = [
      ['apply', applyFlags, (a) => a],
      ['get', getFlags, (a) => kubectlFlags(a, { spec: getFlags })],
      ['describe', describeFlags, (a) => kubectlFlags(a, { output: false, spec: describeFlags })],
    ];
    for (const [command, spec, translate] of commands) {
      const read = (args: string[]) => parseFlags(translate(args), spec);
      for (const [name, def] of Object.entries(spec)) {
        if (def.type === 'boolean') continue;
        const flag = `--${name}`;
        expect(() => read([flag, '--server', 'http://x']), `${command} ${flag}`).toThrow(new FlagError(`flag needs an argument: ${flag} (it is followed by the flag --server; a value that starts with "-" goes after "=": ${flag}=VALUE)`));
        expect(() => read(['pools', flag]), `${command} ${flag}`).toThrow(new FlagError(`flag needs an argument: ${flag}`));
        expect(() => read([flag, '-A']), `${command} ${flag}`).toThrow(/^flag needs an argument: /);
      }
    }
    // Their short forms, named as typed.
    expect(() => parseFlags(['-f', '--server', 'http://x'], applyFlags)).toThrow(new FlagError('flag needs an argument: -f (it is followed by the flag --server; a value that starts with "-" goes after "=": -f=VALUE)'));
    expect(() => parseFlags(['-f'], applyFlags)).toThrow(new FlagError('flag needs an argument: -f'));
    expect(() => kubectlFlags(['-n', '--server', 'http://x', 'pools'], { spec: getFlags })).toThrow(new FlagError('flag needs an argument: -n (it is followed by the flag --server; a value that starts with "-" goes after "=": -n=VALUE)'));
    expect(() => kubectlFlags(['pools', '-o', '-n', 'x'], { spec: getFlags })).toThrow(/^flag needs an argument: -o \(it is followed by the flag -n;/);
    expect(() => kubectlFlags(['pools', '-n'], { spec: getFlags })).toThrow(new FlagError('flag needs an argument: -n'));
    expect(() => kubectlFlags(['pools', '--server', '-n', 'x'], { spec: getFlags })).toThrow(/^flag needs an argument: --server \(it is followed by the flag -n;/);
    // What stays a value: after "=", a lone "-" (standard input), a negative number of a number flag.
    expect(parseFlags(kubectlFlags(['pools', '-n=-x', '--server=-y', '-o', 'yaml'], { spec: getFlags }), getFlags)).toMatchObject({ namespace: '-x', server: '-y', output: 'yaml' });
    expect(parseFlags(['-f', '-', '--expected-version', '-1', '--token', 't'], applyFlags)).toMatchObject({ file: ['-'], 'expected-version': -1, token: 't' });
    expect(() => parseFlags(['--expected-version', '--dry-run'], applyFlags)).toThrow(/^flag needs an argument: --expected-version /);
  });
});
