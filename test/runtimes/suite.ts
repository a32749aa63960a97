/**
 * The end-to-end data-path suite every runtime's gateway must pass: routing
 * by header and by body, LoRA rewrite and restore, unbuffered streaming, and
 * the gateway's own OpenAI-shaped errors. Each runtime's test file starts its
 * gateway once and calls `dataPathSuite`.
 */
import { describe, expect, it } from 'vitest';
import type { Fixture } from './fixture.ts';
import { BODY_LIMIT } from './fixture.ts';

export interface Target {
  /** The gateway's data-plane URL. */
  url: string;
  fixture: Fixture;
}

export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

export const chat = (model: string, content = 'Hello there', extra: Record<string, unknown> = {}) => ({ model, messages: [{ role: 'user', content }], max_tokens: 6, ...extra });

const DESTINATION = 'x-gateway-destination-endpoint';

export function dataPathSuite(target: () => Target): void {
  const completions = () => `${target().url}/v1/chat/completions`;

  describe('routing', () => {
    it('by header: X-Gateway-Model-Name recommender goes to deepseek-r1', async () => {
      const res = await post(completions(), chat('recommender'), { 'X-Gateway-Model-Name': 'recommender' });
      expect(res.status).toBe(200);
      const body = (await res.json()) as { model: string; choices: { message: { content: string } }[] };
      expect(body.model).toBe('recommender');
      expect(body.choices[0]!.message.content.length).toBeGreaterThan(0);
      expect(target().fixture.ids['deepseek-r1']).toContain(res.headers.get(DESTINATION));
    });

    it('by body: model english-bot goes to gemma3 and the answer names english-bot', async () => {
      const res = await post(completions(), chat('english-bot'));
      expect(res.status).toBe(200);
      expect(((await res.json()) as { model: string }).model).toBe('english-bot');
      expect(target().fixture.ids.gemma3).toContain(res.headers.get(DESTINATION));
    });

    it('lists the served models', async () => {
      const res = await fetch(`${target().url}/v1/models`);
      const list = (await res.json()) as { data: { id: string }[] };
      expect(list.data.map((m) => m.id)).toEqual(expect.arrayContaining(['chatbot', 'recommender', 'english-bot', 'wire-bot']));
    });
  });

  describe('LoRA rewrite and restore', () => {
    it('sends the target model upstream and restores the client name in the JSON answer', async () => {
      const wire = target().fixture.wire;
      const res = await post(completions(), chat('wire-bot'), { 'X-Gateway-Model-Name': 'wire-bot' });
      expect(res.status).toBe(200);
      expect(((await res.json()) as { model: string }).model).toBe('wire-bot');
      expect(wire.received.at(-1)!.body.model).toBe('wire-bot-lora-v7');
      expect(res.headers.get(DESTINATION)).toBe(wire.id);
    });
  });

  describe('streaming', () => {
    it('is not buffered: the first chunk arrives before the pod sends the second; every chunk names the client model', async () => {
      const wire = target().fixture.wire;
      const res = await post(completions(), chat('wire-bot', 'stream please', { stream: true }), { 'X-Gateway-Model-Name': 'wire-bot' });
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toContain('text/event-stream');
      const reader = res.body!.getReader();
      const decoder = new TextDecoder();
      let text = '';
      // The pod has sent one chunk and waits; a buffering gateway would hang here.
      while (!text.includes('\n\n')) text += decoder.decode((await reader.read()).value, { stream: true });
      expect(text).toContain('"content":"t0"');
      expect(text).not.toContain('t1');
      expect(wire.received.at(-1)!.body.model).toBe('wire-bot-lora-v7');
      for (let i = 0; i < 3; i++) wire.release();
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        text += decoder.decode(value, { stream: true });
        wire.release();
      }
      const events = text.split('\n\n').filter((e) => e.startsWith('data: {'));
      expect(events).toHaveLength(3);
      for (const e of events) expect(JSON.parse(e.slice(6)).model).toBe('wire-bot');
      expect(text.trimEnd().endsWith('data: [DONE]')).toBe(true);
    });

    it('streams a simulated pod token by token', async () => {
      const res = await post(completions(), chat('chatbot', 'tell me a story', { stream: true, max_tokens: 5 }), { 'X-Gateway-Model-Name': 'chatbot' });
      expect(res.status).toBe(200);
      const text = await res.text();
      const events = text.split('\n\n').filter((e) => e.startsWith('data: {'));
      expect(events.length).toBeGreaterThanOrEqual(5);
      for (const e of events) expect(JSON.parse(e.slice(6)).model).toBe('chatbot');
    });
  });

  describe('token budgets (the tenant named by the x-tenant header)', () => {
    it('charges each request its reservation up front and refuses the tenant over budget with 429 and OpenAI\'s headers', async () => {
      // 40 characters (10 tokens) + max_tokens 40, written in full: 50 tokens used and reserved; the budget is 200.
      const ask = () => post(`${target().url}/v1/completions`, { model: 'chatbot', prompt: 'abcd'.repeat(10), max_tokens: 40, ignore_eos: true }, { 'X-Gateway-Model-Name': 'chatbot', 'x-tenant': 'suite-tenant' });
      const remaining: (string | null)[] = [];
      for (let i = 0; i < 4; i++) {
        const res = await ask();
        expect(res.status).toBe(200);
        expect(((await res.json()) as { usage: { total_tokens: number } }).usage.total_tokens).toBe(50);
        remaining.push(res.headers.get('x-ratelimit-remaining-tokens'));
      }
      expect(remaining).toEqual(['150', '100', '50', '0']);
      const refused = await ask();
      expect(refused.status).toBe(429);
      expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
      expect(refused.headers.get('x-ratelimit-limit-tokens')).toBe('200');
      const body = (await refused.json()) as { error: { type: string; code: string } };
      expect(body.error).toMatchObject({ type: 'tokens', code: 'rate_limit_exceeded' });
    });
  });

  describe('errors are OpenAI-shaped', () => {
    const expectError = async (res: Response, status: number, code: string) => {
      expect(res.status).toBe(status);
      const body = (await res.json()) as { error: { message: string; type: string; code: string } };
      expect(body.error.code).toBe(code);
      expect(body.error.message.length).toBeGreaterThan(20);
      expect(body.error).toHaveProperty('type');
      return body.error;
    };
    it('400 for malformed JSON', async () => {
      await expectError(await post(completions(), '{"model": "chatbot", '), 400, 'invalid_json');
    });
    it('400 naming a missing field', async () => {
      const err = await expectError(await post(completions(), { model: 'english-bot' }), 400, 'missing_required_parameter');
      expect(err.message).toContain('messages');
    });
    it('404 for a model the table does not serve', async () => {
      const err = await expectError(await post(completions(), chat('gpt-17')), 404, 'model_not_found');
      expect(err.message).toContain('gpt-17');
    });
    it('404 for an unknown path', async () => {
      await expectError(await fetch(`${target().url}/v2/nothing`), 404, 'unknown_url');
    });
    it('413 for a body over the limit', async () => {
      await expectError(await post(completions(), chat('english-bot', 'x'.repeat(BODY_LIMIT + 1024))), 413, 'request_too_large');
    });
    it('503 when the pool has no endpoint', async () => {
      const err = await expectError(await post(completions(), chat('empty-bot'), { 'X-Gateway-Model-Name': 'empty-bot' }), 503, 'no_ready_endpoint');
      expect(err.message).toContain('empty');
    });
    it('502 when every endpoint resets the connection', async () => {
      await expectError(await post(completions(), chat('dead-bot'), { 'X-Gateway-Model-Name': 'dead-bot' }), 502, 'upstream_unavailable');
    });
  });
}
