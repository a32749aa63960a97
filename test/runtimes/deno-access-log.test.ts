/**
 * The access-log flags on Deno are refused at startup as on Node
 * (src/runtime/node/gateway.ts, openAccessLog): one line naming the flag,
 * exit 1, and no uncaught error with a stack trace.
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ROOT, startChild } from './spawn.ts';

function runDeno(args: string[]): Promise<{ code: number | null; output: string }> {
  const child = startChild(
    `${ROOT}node_modules/.bin/deno`,
    ['run', '--allow-net', '--allow-read', '--allow-env', '--allow-write', 'src/runtime/deno/main.ts', '--port', '0', '--admin-port', '-1', '--manifests', 'examples/seed-use-cases.yaml', '--endpoints', 'examples/seed-endpoints.yaml', ...args],
    { DENO_NO_UPDATE_CHECK: '1', NO_COLOR: '1' },
    ROOT,
  );
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      void child.stop();
      reject(new Error(`deno did not exit:\n${child.output()}`));
    }, 30_000);
    child.process.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, output: child.output() });
    });
  });
}

describe('deno: access-log flags', () => {
  const missingDir = join(mkdtempSync(join(tmpdir(), 'infergate-deno-log-')), 'no-such-dir', 'access.log');
  it.each([
    { name: 'a file that cannot be opened', args: ['--access-log', missingDir], message: `infergate gateway (deno): --access-log ${missingDir}: cannot open it for appending (` },
    { name: 'a sample outside 0..1', args: ['--access-log', 'stdout', '--access-log-sample', '2'], message: 'infergate gateway (deno): --access-log-sample must be from 0 to 1, got 2' },
  ])('refuses $name with one line and exit 1', async ({ args, message }) => {
    const { code, output } = await runDeno(args);
    expect(code).toBe(1);
    expect(output).not.toMatch(/Uncaught|\n\s+at /);
    const lines = output.trim().split('\n');
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain(message);
  }, 40_000);
});
