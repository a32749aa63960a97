/**
 * `npm start` runs the demo; the curl line it prints works.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { promisify } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
let child: ChildProcess | undefined;

afterAll(async () => {
  if (!child || child.exitCode !== null) return;
  const exited = new Promise((r) => child!.once('exit', r));
  child.kill('SIGTERM');
  await exited;
});

describe('the demo', () => {
  it('starts the gateway and simulated pods, and the printed curl works', async () => {
    child = spawn(process.execPath, ['bin/infergate.js', 'demo'], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d) => (out += d));
    child.stderr!.on('data', (d) => (out += d));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`demo did not start in 20 s:\n${out}`)), 20_000);
      const check = () => {
        if (out.includes('Ctrl-C')) {
          clearTimeout(timer);
          resolve();
        }
      };
      child!.stdout!.on('data', check);
      child!.once('exit', (code) => reject(new Error(`demo exited with ${code}:\n${out}`)));
    });
    // The first printed curl command, joined across its continuation line.
    const lines = out.split('\n');
    const start = lines.findIndex((l) => l.trim().startsWith('curl '));
    const command = (lines[start]!.replace(/\\$/, '') + lines[start + 1]!).trim();
    const { stdout } = await promisify(execFile)('sh', ['-c', `${command} --silent --show-error --max-time 10`]);
    const answer = JSON.parse(stdout) as { model: string; choices: { message: { content: string } }[] };
    expect(answer.model).toBe('english-bot');
    expect(answer.choices[0]!.message.content.length).toBeGreaterThan(0);
  });
});
