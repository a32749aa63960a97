/** Each fault knob of a simulated pod, at start and at run time, over real sockets. */
import { afterAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.ts';
import { startSimulator } from '../src/runtime/node/index.ts';
import { chat, postJson, sleep, streamTimed } from './sim-helpers.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const sims: Simulator[] = [];
async function pod(options: Parameters<typeof startSimulator>[0] = {}) {
  const s = await startSimulator({ port: 0, timeScale: 0.1, ...options });
  sims.push(s);
  return s.pods[0]!;
}
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

const ask = (url: string, extra: Record<string, unknown> = {}) => postJson(`${url}/v1/chat/completions`, chat(MODEL, 'hi', { max_tokens: 3, ...extra }));

describe('faults', () => {
  it('fails every request with 429 and Retry-After when error_rate is 1', async () => {
    const p = await pod();
    expect((await postJson(`${p.url}/admin/faults`, { error_rate: 1, error_status: 429 })).status).toBe(200);
    const r = await ask(p.url);
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(await r.json()).toMatchObject({ object: 'error', code: 429 });
    expect(p.engine.stats.steps).toBe(0); // never reached the engine
  });

  it('fails about the given fraction with 500, repeatably for a seed', async () => {
    const run = async () => {
      const p = await pod({ seed: 42, faults: { error_rate: 0.3 } });
      const statuses = [];
      for (let i = 0; i < 60; i++) statuses.push((await ask(p.url)).status);
      return statuses;
    };
    const a = await run();
    const failed = a.filter((s) => s === 500).length;
    expect(failed).toBeGreaterThan(8);
    expect(failed).toBeLessThan(30);
    expect(a.filter((s) => s !== 500).every((s) => s === 200)).toBe(true);
    expect(await run()).toEqual(a);
  });

  it('stalls before the first token', async () => {
    const p = await pod();
    const fast = await streamTimed(p.url, chat(MODEL, 'hi', { max_tokens: 2 }));
    await p.setFaults({ stall_ms: 500 });
    const slow = await streamTimed(p.url, chat(MODEL, 'hi', { max_tokens: 2 }));
    expect(fast.firstMs).toBeLessThan(250);
    expect(slow.firstMs).toBeGreaterThanOrEqual(495);
  });

  it('closes the connection mid-stream after N tokens, and the engine drops the request', async () => {
    const p = await pod({ faults: { disconnect_after_tokens: 3 } });
    const r = await postJson(`${p.url}/v1/chat/completions`, chat(MODEL, 'hi', { max_tokens: 50, stream: true }));
    expect(r.status).toBe(200);
    const reader = r.body!.pipeThrough(new TextDecoderStream()).getReader();
    let text = '';
    await expect(
      (async () => {
        for (;;) {
          const { done, value } = await reader.read();
          if (done) return;
          text += value;
        }
      })(),
    ).rejects.toThrow();
    expect(text.match(/"content":" /g)).toHaveLength(3);
    expect(text).not.toContain('[DONE]');
    expect(p.engine.stats.aborted).toBe(1);
    expect(p.engine.numRunning).toBe(0);
    // non-streaming requests are not affected
    expect((await ask(p.url)).status).toBe(200);
  });

  it('reports unhealthy, from the start and until cleared', async () => {
    const p = await pod({ faults: { unhealthy: true } });
    expect((await fetch(`${p.url}/health`)).status).toBe(503);
    expect((await fetch(`${p.url}/admin/faults`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${p.url}/health`)).status).toBe(200);
  });

  it('stops listening and listens again on the same port when cleared', async () => {
    const p = await pod();
    const port = p.port;
    expect((await postJson(`${p.url}/admin/faults`, { stop_listening: true })).status).toBe(200);
    await sleep(80);
    expect(p.listening).toBe(false);
    await expect(fetch(`${p.url}/health`)).rejects.toThrow();
    await p.setFaults({});
    expect(p.port).toBe(port);
    expect((await fetch(`${p.url}/health`)).status).toBe(200);
  });

  it('listens again by itself after stop_listening_ms', async () => {
    const p = await pod();
    await p.setFaults({ stop_listening: true, stop_listening_ms: 150 });
    await expect(fetch(`${p.url}/health`)).rejects.toThrow();
    await sleep(250);
    expect((await fetch(`${p.url}/health`)).status).toBe(200);
    expect(p.faults.stop_listening).toBe(false);
  });

  it('rejects an invalid fault set naming the field', async () => {
    const p = await pod();
    const r = await postJson(`${p.url}/admin/faults`, { error_rate: 2 });
    expect(r.status).toBe(400);
    expect((await r.json()).message).toMatch(/faults\.error_rate/);
    await expect(startSimulator({ port: 0, faults: { error_status: 418 as 500 } })).rejects.toThrow(/error_status/);
  });
});
