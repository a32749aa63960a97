/** `infergate sim` as a process: flags, INFERGATE_SIM_* variables, shutdown on SIGTERM. */
import { spawn } from 'node:child_process';
import { createInterface } from 'node:readline';
import { describe, expect, it } from 'vitest';

describe('infergate sim', () => {
  it('starts the pods named by flags and env, serves them, and exits 0 on SIGTERM', async () => {
    const child = spawn(process.execPath, ['bin/infergate.js', 'sim', '--pods', '2', '--port', '0', '--lora', 'english-bot,spanish-bot', '--engine=sglang'], {
      env: { ...process.env, INFERGATE_SIM_MAX_LORAS: '2', INFERGATE_SIM_MODEL: 'gemma' },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = createInterface({ input: child.stdout! });
    const pods: { url: string; model: string; engine: string }[] = [];
    for await (const line of lines) {
      pods.push(JSON.parse(line));
      if (pods.length === 2) break;
    }
    expect(pods.map((p) => p.model)).toEqual(['gemma', 'gemma']);
    expect(new Set(pods.map((p) => p.url)).size).toBe(2);
    const models = await (await fetch(`${pods[1]!.url}/v1/models`)).json();
    expect(models.data.map((m: { id: string }) => m.id)).toEqual(['gemma', 'english-bot', 'spanish-bot']);
    const metrics = await (await fetch(`${pods[0]!.url}/metrics`)).text();
    expect(metrics).toContain('sglang:num_queue_reqs');
    const code = new Promise((resolve) => child.on('exit', resolve));
    child.kill('SIGTERM');
    expect(await code).toBe(0);
  });

  it('rejects an unknown flag with exit code 2', async () => {
    const child = spawn(process.execPath, ['bin/infergate.js', 'sim', '--pods-typo', '2'], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    child.stderr!.on('data', (b) => (err += b));
    const code = await new Promise((resolve) => child.on('exit', resolve));
    expect(code).toBe(2);
    expect(err).toMatch(/unknown flag --pods-typo/);
  });
});
