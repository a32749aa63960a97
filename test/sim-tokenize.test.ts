/** The simulator's /tokenize and /detokenize, in vLLM's request and response shapes. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.ts';
import { startSimulator } from '../src/runtime/node/index.ts';

let sim: Simulator;
beforeAll(async () => {
  sim = await startSimulator({ pods: 1, port: 0, loras: ['english-bot'], engineConfig: { maxModelLen: 4096 } });
});
afterAll(() => sim.close());

const post = async (path: string, body: unknown) => {
  const r = await fetch(`${sim.pods[0]!.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as Record<string, unknown> };
};

describe('simulator /tokenize and /detokenize', () => {
  it('tokenizes a prompt: count, max_model_len, tokens, token_strs', async () => {
    const { status, json } = await post('/tokenize', { model: 'meta-llama/Llama-3.1-8B-Instruct', prompt: 'Hello, world!' });
    expect(status).toBe(200);
    expect(Object.keys(json).sort()).toEqual(['count', 'max_model_len', 'token_strs', 'tokens']);
    expect(json.count).toBe(4); // ceil(13 / 4): the same count usage reports
    expect(json.max_model_len).toBe(4096);
    expect(json.token_strs).toBeNull();
    const again = await post('/detokenize', { tokens: json.tokens });
    expect(again).toEqual({ status: 200, json: { prompt: 'Hello, world!' } });
  });

  it('tokenizes messages the way the simulator renders a chat prompt, and returns token strings when asked', async () => {
    const messages = [{ role: 'system', content: 'be brief' }, { role: 'user', content: [{ type: 'text', text: 'hi' }] }];
    const { json } = await post('/tokenize', { messages, return_token_strs: true });
    expect(json.token_strs).toEqual(['syst', 'embe', ' bri', 'efus', 'erhi']);
    expect(json.count).toBe(5);
    const completion = await post('/tokenize', { prompt: 'systembe briefuserhi' });
    expect(completion.json.tokens).toEqual(json.tokens);
  });

  it('gives every pod the same ids, non-ASCII included, and decodes what it produced', async () => {
    const text = 'naïve café — 東京';
    const { json } = await post('/tokenize', { prompt: text });
    expect((await post('/detokenize', { tokens: json.tokens })).json.prompt).toBe(text);
    expect((json.tokens as number[]).every((t) => Number.isInteger(t) && t > 0 && t < 2 ** 31)).toBe(true);
  });

  it('answers bad input with 4xx errors in vLLM\'s error shape', async () => {
    for (const [path, body, status] of [
      ['/tokenize', { prompt: 3 }, 400],
      ['/tokenize', { messages: [{ role: 'user', content: 'x' }], add_generation_prompt: true, continue_final_message: true }, 400],
      ['/tokenize', { model: 'nope', prompt: 'x' }, 404],
      ['/detokenize', { tokens: [-1] }, 400],
      ['/detokenize', { tokens: 'abc' }, 400],
    ] as const) {
      const r = await post(path, body);
      expect(r.status, JSON.stringify(body)).toBe(status);
      expect(r.json.object).toBe('error');
      expect(String(r.json.message).length).toBeGreaterThan(0);
    }
    const raw = await fetch(`${sim.pods[0]!.url}/tokenize`, { method: 'POST', body: '{' });
    expect(raw.status).toBe(400);
  });
});
