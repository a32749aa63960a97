/**
 * Startup errors are said in one line, with what to do, and exit code 1 —
 * not a crash with a stack trace. A port that is taken, for every command
 * that listens: the gateway (its data port and its admin port; on Node and on
 * Deno), the agent, the simulator and the demo; each process also exits
 * promptly (nothing it started keeps it alive). And an endpoints file that is
 * missing, invalid or binary (quoted as a short excerpt), a state dir that
 * cannot be created, and an admin command's flag left without its value.
 */
import { createServer, type AddressInfo, type Server } from 'node:net';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { listenFailure } from '../src/config/listen-failure.ts';
import { SEED_MANIFESTS } from './harness.ts';

const SEED_ENDPOINTS = new URL('../examples/seed-endpoints.yaml', import.meta.url).pathname;
import { ROOT, startChild } from './runtimes/spawn.ts';

let taken: Server;
let port: number;

beforeAll(async () => {
  taken = createServer();
  await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
  port = (taken.address() as AddressInfo).port;
});
afterAll(() => {
  taken.close();
});

/** Run to its exit (at most 30 s); its exit code and everything it printed. */
async function exitOf(command: string, args: string[]): Promise<{ code: number | null; output: string }> {
  const child = startChild(command, args, { NO_COLOR: '1', DENO_NO_UPDATE_CHECK: '1' }, ROOT);
  try {
    const code = await Promise.race([
      new Promise<number | null>((resolve) => child.process.once('exit', (c) => resolve(c))),
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 30_000)),
    ]);
    expect(code, `${args.join(' ')} did not exit:\n${child.output()}`).not.toBe('hung');
    return { code: code as number | null, output: child.output() };
  } finally {
    await child.stop();
  }
}

function expectOneLine(output: string, command: string): void {
  expect(output).toContain(`${command}: cannot listen on 127.0.0.1:${port}: the address is already in use (another process listens there) (EADDRINUSE); choose another port, or stop what holds it`);
  // No stack trace.
  expect(output).not.toMatch(/^\s+at /m);
}

const gateway = (...more: string[]) => ['bin/infergate.js', 'gateway', '--manifests', SEED_MANIFESTS, '--endpoints', SEED_ENDPOINTS, ...more];

describe('a taken port', () => {
  it('gateway: the data port', async () => {
    const { code, output } = await exitOf(process.execPath, gateway('--port', String(port), '--admin-port', '-1'));
    expect(code).toBe(1);
    expectOneLine(output, 'infergate gateway');
  });

  it('gateway: the admin port', async () => {
    const { code, output } = await exitOf(process.execPath, gateway('--port', '0', '--admin-port', String(port)));
    expect(code).toBe(1);
    expectOneLine(output, 'infergate gateway');
  });

  it('gateway on Deno', async () => {
    const deno = `${ROOT}node_modules/.bin/deno`;
    const args = ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-write', 'src/runtime/deno/main.ts', '--manifests', SEED_MANIFESTS, '--endpoints', SEED_ENDPOINTS, '--port', String(port), '--admin-port', '-1'];
    const { code, output } = await exitOf(deno, args);
    expect(code).toBe(1);
    expectOneLine(output, 'infergate gateway (deno)');
  });

  it('agent', async () => {
    const { code, output } = await exitOf(process.execPath, ['bin/infergate.js', 'agent', '--endpoints', SEED_ENDPOINTS, '--port', String(port)]);
    expect(code).toBe(1);
    expectOneLine(output, 'infergate agent');
  });

  it('sim', async () => {
    const { code, output } = await exitOf(process.execPath, ['bin/infergate.js', 'sim', '--port', String(port)]);
    expect(code).toBe(1);
    expectOneLine(output, 'infergate sim');
  });

  it('demo', async () => {
    const { code, output } = await exitOf(process.execPath, ['bin/infergate.js', 'demo', '--port', String(port), '--admin-port', '0']);
    expect(code).toBe(1);
    expectOneLine(output, 'infergate demo');
  });
});

describe('an endpoints file that cannot be used', () => {
  it('missing, or invalid: the gateway says which and why, and exits 1', async () => {
    const missing = await exitOf(process.execPath, gateway('--port', '0', '--admin-port', '-1').map((a) => (a === SEED_ENDPOINTS ? '/nonexistent/endpoints.yaml' : a)));
    expect(missing.code).toBe(1);
    expect(missing.output).toContain('infergate gateway: --endpoints: /nonexistent/endpoints.yaml does not exist');
    expect(missing.output).not.toMatch(/^\s+at /m);
    // At startup there are no previous endpoints to keep: the error alone, no warning before it.
    expect(missing.output).not.toContain('keeping previous endpoints');
    const bad = join(mkdtempSync(join(tmpdir(), 'infergate-endpoints-')), 'endpoints.yaml');
    writeFileSync(bad, 'endpoints:\n  - { port: 8000 }\n');
    const invalid = await exitOf(process.execPath, gateway('--port', '0', '--admin-port', '-1').map((a) => (a === SEED_ENDPOINTS ? bad : a)));
    expect(invalid.code).toBe(1);
    expect(invalid.output).toContain(`infergate gateway: --endpoints: ${bad}`);
    expect(invalid.output).toMatch(/address/);
    expect(invalid.output).not.toMatch(/^\s+at /m);
    expect(invalid.output).not.toContain('keeping previous endpoints');
  });

  it('binary: the error quotes a short, printable excerpt of it, not the whole file', async () => {
    const binary = join(mkdtempSync(join(tmpdir(), 'infergate-endpoints-')), 'endpoints.yaml');
    // Bytes a YAML parser reads as one long plain scalar: control characters, invalid UTF-8, no newline.
    const bytes = Buffer.alloc(12_000, 0);
    for (let i = 0; i < bytes.length; i++) bytes[i] = [0x4c, 0xff, 0x04, 0x78, 0xfe, 0x1b, 0x7f, 0x5a][i % 8]!;
    writeFileSync(binary, bytes);
    const run = await exitOf(process.execPath, gateway('--port', '0', '--admin-port', '-1').map((a) => (a === SEED_ENDPOINTS ? binary : a)));
    expect(run.code).toBe(1);
    const line = run.output.split('\n').find((l) => l.startsWith('infergate gateway: --endpoints:'));
    expect(line, run.output).toBeDefined();
    expect(line).toContain(`infergate gateway: --endpoints: ${binary}: Invalid type: Expected Object but received "L\\ufffd\\x04x`);
    expect(line).toMatch(/…"$/);
    expect(line!.length).toBeLessThan(binary.length + 150);
    // Nothing a terminal would act on (an escape sequence), nor a whole file's worth, anywhere in what it printed.
    expect(run.output).not.toMatch(/[\x00-\x08\x0b-\x1f\x7f\ufffd]/);
    expect(run.output.length).toBeLessThan(4000);
  });
});

describe('bad values and unusable paths', () => {
  const dir = mkdtempSync(join(tmpdir(), 'infergate-startup-'));
  const file = join(dir, 'a-file');
  writeFileSync(file, 'x');
  it.each([
    { name: 'a port out of range', args: ['--port', '99999'], code: 2, says: '--port must be from 0 to 65535, got 99999' },
    { name: 'a port that is not whole', args: ['--port', '1.5'], code: 2, says: '--port must be a whole number, got 1.5' },
    { name: 'a negative timeout', args: ['--headers-timeout', '-5'], code: 2, says: '--headers-timeout must be from 1 to 2147483647, got -5' },
    { name: 'no attempts', args: ['--max-attempts', '0'], code: 2, says: '--max-attempts must be at least 1, got 0' },
    { name: 'a mode only the options read', args: ['--budget-failure-mode', 'Foo'], code: 2, says: '--budget-failure-mode must be FailOpen or FailClose, got "Foo"' },
    { name: 'an empty --host', args: ['--host', ''], code: 2, says: '--host must name an address' },
    { name: 'a host that does not resolve', args: ['--host', 'nohost.invalid'], code: 1, says: 'cannot listen on nohost.invalid:0: the host name does not resolve (ENOTFOUND)' },
    { name: 'a directory as --scheduling-config', args: ['--scheduling-config', dir], code: 1, says: `${dir}: is a directory, not a file (EISDIR` },
    { name: 'a file as --state-dir', args: ['--state-dir', file], code: 1, says: `${file}: exists, and is not a directory (EEXIST` },
    // Node's own mkdir(recursive) loops forever on it; the gateway did, at startup with --manifests, or at the first apply.
    { name: 'a --state-dir that cannot be created', args: ['--state-dir', '/proc/nope'], code: 1, says: 'infergate gateway: --state-dir: /proc/nope: cannot be created there (ENOENT, mkdir); give a directory this user can create and write in' },
  ])('$name: one line, exit $code', async ({ args, code, says }) => {
    const run = await exitOf(process.execPath, gateway(...(args.includes('--port') ? [] : ['--port', '0']), '--admin-port', '-1', ...args));
    expect(run.code).toBe(code);
    expect(run.output).toContain(says);
    expect(run.output).not.toMatch(/^\s+at /m);
  });

  it('on Deno too: a --state-dir that cannot be used is said at startup, in one line', async () => {
    const deno = `${ROOT}node_modules/.bin/deno`;
    const base = ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-write', 'src/runtime/deno/main.ts', '--endpoints', SEED_ENDPOINTS, '--port', '0', '--admin-port', '-1'];
    for (const [stateDir, says] of [
      [file, `infergate gateway (deno): --state-dir: ${file}: exists, and is not a directory (EEXIST`],
      [`${file}/state`, `infergate gateway (deno): --state-dir: ${file}/state: a part of the path is a file, not a directory (ENOTDIR`],
    ] as const) {
      const run = await exitOf(deno, [...base, '--state-dir', stateDir]);
      expect(run.code, run.output).toBe(1);
      expect(run.output).toContain(says);
      expect(run.output).toContain('give a directory this user can create and write in');
      expect(run.output).not.toMatch(/^\s+at /m);
    }
  });

  it.skipIf(process.platform !== 'linux')('a --state-dir that cannot be created is said at startup, not found out by the first apply', async () => {
    const run = await exitOf(process.execPath, ['bin/infergate.js', 'gateway', '--endpoints', SEED_ENDPOINTS, '--port', '0', '--admin-port', '0', '--state-dir', '/proc/nope/state']);
    expect(run.code).toBe(1);
    expect(run.output).toContain('infergate gateway: --state-dir: /proc/nope: cannot be created there (ENOENT, mkdir)');
    expect(run.output).not.toMatch(/^\s+at /m);
  });

  it('an empty variable is unset: INFERGATE_HOST= does not listen on every interface, INFERGATE_PORT= is not port 0', async () => {
    const child = startChild(process.execPath, gateway('--admin-port', '-1', '--port', '0'), { INFERGATE_HOST: '', INFERGATE_PORT: '' }, ROOT);
    try {
      const [, url] = await child.waitFor(/"url":"(http:\/\/[^"]+)"/, 20_000);
      expect(url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    } finally {
      await child.stop();
    }
  });
});

describe('small things a user types', () => {
  it('`key` prints an entry the gateway reads back as written, whatever the tenant looks like', async () => {
    const { parseApiKeys } = await import('../src/config/api-keys-file.ts');
    for (const tenant of ['123', 'true', '#team', '*x', '[a']) {
      const out = (await exitOf(process.execPath, ['bin/infergate.js', 'key', '--tenant', tenant])).output;
      const entry = out.slice(out.indexOf('  - name:'));
      const parsed = parseApiKeys(`keys:\n${entry}`, 'keys.yaml');
      expect(parsed.ok, JSON.stringify(parsed)).toBe(true);
      const key = /^(sk-ig-\S+)$/m.exec(out)![1]!;
      if (parsed.ok) expect(parsed.keys.authenticate(`Bearer ${key}`).tenant).toBe(tenant);
    }
  });

  it('an empty --token-file is refused, not read as "no token"; --agent and --endpoints together are refused', async () => {
    const empty = join(mkdtempSync(join(tmpdir(), 'infergate-token-')), 'token');
    writeFileSync(empty, '\n');
    const run = await exitOf(process.execPath, gateway('--port', '0', '--admin-port', '0', '--token-file', empty));
    expect(run.code).toBe(1);
    expect(run.output).toContain(`--token-file ${empty} is empty`);
    const both = await exitOf(process.execPath, gateway('--port', '0', '--admin-port', '-1', '--agent', 'http://127.0.0.1:9'));
    expect(both.code).toBe(2);
    expect(both.output).toContain('not both');
  });
});

describe('no usable kubeconfig', () => {
  const home = mkdtempSync(join(tmpdir(), 'infergate-home-'));
  it.each([
    { name: 'KUBECONFIG names no file', env: { KUBECONFIG: '/nonexistent/kubeconfig' }, says: 'cannot load the kubeconfig (KUBECONFIG=/nonexistent/kubeconfig): ENOENT' },
    // client-node then falls back to http://localhost:8080: no cluster, not one to retry forever.
    { name: 'nothing configured', env: { KUBECONFIG: undefined }, says: 'no Kubernetes cluster configured' },
  ])('$name: gateway --kubernetes says so in one line and exits 1', async ({ env, says }) => {
    const child = startChild(process.execPath, ['bin/infergate.js', 'gateway', '--kubernetes', '--port', '0', '--admin-port', '-1'], { HOME: home, KUBERNETES_SERVICE_HOST: undefined, ...env }, ROOT);
    try {
      const code = await new Promise<number | null>((resolve) => child.process.once('exit', (c) => resolve(c)));
      expect(code).toBe(1);
      expect(child.output()).toContain(`infergate gateway: ${says}`);
      expect(child.output()).not.toMatch(/^\s+at /m);
    } finally {
      await child.stop();
    }
  });
});

describe('admin commands against the wrong address', () => {
  it('nothing listening, or a server that is not infergate: one line that says what to check, exit 1', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const none = await exitOf(process.execPath, ['bin/infergate.js', 'get', 'routes', '--server', `http://127.0.0.1:${free}`]);
    expect(none.code).toBe(1);
    expect(none.output).toContain(`http://127.0.0.1:${free}: cannot reach the admin API`);
    const { createServer: createHttpServer } = await import('node:http');
    const other = createHttpServer((_req, res) => res.writeHead(404).end('not here'));
    await new Promise<void>((resolve) => other.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(other.address() as AddressInfo).port}`;
    try {
      for (const args of [['get', 'routes'], ['describe', 'inferencepools'], ['apply', '-f', SEED_MANIFESTS]]) {
        const run = await exitOf(process.execPath, ['bin/infergate.js', ...args, '--server', url]);
        expect(run.code, args.join(' ')).toBe(1);
        expect(run.output).toContain(`${url}: HTTP 404 — this does not look like infergate's admin API`);
      }
    } finally {
      other.close();
    }
  });
});

describe('admin commands: a flag that needs a value, followed by another flag', () => {
  it.each(
    [
      { args: ['get', '-n', '--server', 'http://127.0.0.1:1234', 'pools'], says: 'infergate get: flag needs an argument: -n (it is followed by the flag --server' },
      { args: ['get', 'pools', '-n'], says: 'infergate get: flag needs an argument: -n' },
      { args: ['get', 'inferencepools', '-o', '--server=http://127.0.0.1:1234'], says: 'infergate get: flag needs an argument: -o (it is followed by the flag --server' },
      { args: ['get', 'pools', '--server', '-n', 'default'], says: 'infergate get: flag needs an argument: --server (it is followed by the flag -n' },
      { args: ['describe', 'inferencepools', '-n', '--server', 'http://127.0.0.1:1234'], says: 'infergate describe: flag needs an argument: -n (it is followed by the flag --server' },
      { args: ['describe', 'inferencepools', '--token', '-A'], says: 'infergate describe: flag needs an argument: --token (it is followed by the flag -A' },
      { args: ['apply', '-f', '--server', 'http://127.0.0.1:1234'], says: 'infergate apply: flag needs an argument: -f (it is followed by the flag --server' },
      { args: ['apply', '-f', SEED_MANIFESTS, '--server', '--token', 't'], says: 'infergate apply: flag needs an argument: --server (it is followed by the flag --token' },
      { args: ['apply', '-f', SEED_MANIFESTS, '--token-file', '--dry-run'], says: 'infergate apply: flag needs an argument: --token-file (it is followed by the flag --dry-run' },
    ].map((c) => ({ ...c, name: c.args.join(' ').replace(SEED_MANIFESTS, 'FILE') })),
  )('$name: a usage error, exit 2, nothing sent', async ({ args, says }) => {
    const run = await exitOf(process.execPath, ['bin/infergate.js', ...args]);
    expect(run.code, run.output).toBe(2);
    expect(run.output).toContain(says);
    expect(run.output).not.toMatch(/cannot reach the admin API|does not exist/);
  });

  it('a lone "-" is a value (standard input), and a negative number one of a number flag', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const free = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    const run = await exitOf(process.execPath, ['bin/infergate.js', 'apply', '-f', SEED_MANIFESTS, '--expected-version', '-1', '--server', `http://127.0.0.1:${free}`]);
    expect(run.code, run.output).toBe(1);
    expect(run.output).toContain(`http://127.0.0.1:${free}: cannot reach the admin API`);
    // Standard input (empty here): read, and found to hold nothing to apply.
    const stdin = await exitOf(process.execPath, ['bin/infergate.js', 'apply', '-f', '-', '--server', `http://127.0.0.1:${free}`]);
    expect(stdin.code, stdin.output).toBe(1);
    expect(stdin.output).toContain('error: - holds no routing object');
  });
});

describe('listenFailure', () => {
  it('says a listen failure in one line, and nothing of other errors', () => {
    const inUse = Object.assign(new Error('listen EADDRINUSE'), { code: 'EADDRINUSE', syscall: 'listen', address: '::1', port: 80 });
    expect(listenFailure(inUse)).toBe('cannot listen on ::1:80: the address is already in use (another process listens there) (EADDRINUSE); choose another port, or stop what holds it');
    expect(listenFailure(Object.assign(new Error('x'), { code: 'EACCES', syscall: 'listen' }), { host: '0.0.0.0', port: 80 })).toMatch(/^cannot listen on 0\.0\.0\.0:80: permission denied \(ports below 1024 need privileges\) \(EACCES\)/);
    // Deno's own error, by its name.
    expect(listenFailure(Object.assign(new Error('Address in use'), { name: 'AddrInUse' }), { host: '127.0.0.1', port: 8080 })).toMatch(/^cannot listen on 127\.0\.0\.1:8080: the address is already in use/);
    // A permission error of another call (opening a file), a connect error, anything else: not a listen failure.
    expect(listenFailure(Object.assign(new Error('x'), { code: 'EACCES', syscall: 'open' }))).toBeUndefined();
    expect(listenFailure(Object.assign(new Error('x'), { code: 'ECONNREFUSED', syscall: 'connect' }))).toBeUndefined();
    expect(listenFailure(new Error('boom'))).toBeUndefined();
    expect(listenFailure(undefined)).toBeUndefined();
  });
});
