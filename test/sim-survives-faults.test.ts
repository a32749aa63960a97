/**
 * `infergate sim` survives its own faults (issue 16): with one pod, a
 * `stop_listening` fault closed the only socket, nothing held Node's event
 * loop and the process exited with 13 (unsettled top-level await), so the
 * fault could never be cleared. Runs the real CLI as a child process.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { afterEach, describe, expect, it } from 'vitest';

let child: ChildProcess | undefined;
afterEach(() => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
});

async function startSim(): Promise<{ url: string; exited: Promise<number | null> }> {
  child = spawn(process.execPath, ['bin/infergate.js', 'sim', '--pods', '1', '--port', '0', '--time-scale', '0.01'], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = new Promise<number | null>((resolve) => child!.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    let out = '';
    child!.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /"url":"([^"]+)"/.exec(out);
      if (m) resolve(m[1]!);
    });
    void exited.then((code) => reject(new Error(`sim exited with ${code} before listening`)));
  });
  return { url, exited };
}

const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;

describe('infergate sim under its own faults', () => {
  it('keeps running while its only pod does not listen, and listens again when the fault times out', async () => {
    const { url, exited } = await startSim();
    const r = await fetch(`${url}/admin/faults`, { method: 'POST', body: JSON.stringify({ stop_listening: true, stop_listening_ms: 600 }) });
    expect(r.status).toBe(200);
    await new Promise((res) => setTimeout(res, 300));
    expect(alive()).toBe(true);
    await expect(fetch(`${url}/health`)).rejects.toThrow();
    await new Promise((res) => setTimeout(res, 600));
    expect((await fetch(`${url}/health`)).status).toBe(200);
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });

  it('stays up with stop_listening and no timeout until it is told to stop', async () => {
    const { url, exited } = await startSim();
    await fetch(`${url}/admin/faults`, { method: 'POST', body: JSON.stringify({ stop_listening: true }) });
    await new Promise((res) => setTimeout(res, 400));
    expect(alive()).toBe(true);
    child!.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
