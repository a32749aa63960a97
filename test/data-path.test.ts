/**
 * The data path end to end: the OpenAI client → gateway → simulated vLLM
 * pods, over real sockets.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import OpenAI from 'openai';
import { chat, postJson, startDemoCluster, type DemoCluster } from './harness.ts';

let cluster: DemoCluster;
let client: OpenAI;

beforeAll(async () => {
  cluster = await startDemoCluster({ gateway: { adminPort: 0 } });
  client = new OpenAI({ baseURL: `${cluster.gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
});
afterAll(() => cluster?.close());

const demoModels = [
  { model: 'chatbot', pool: 'gemma3', header: true },
  { model: 'recommender', pool: 'deepseek-r1', header: true },
  { model: 'english-bot', pool: 'gemma3', header: false },
  { model: 'spanish-bot', pool: 'gemma3', header: false },
];

describe('the four demo models through the official openai client', () => {
  for (const { model, pool, header } of demoModels) {
    it(`${model}: non-streaming, answered by a pod of ${pool}`, async () => {
      const headers = header ? { 'X-Gateway-Model-Name': model } : {};
      const { data, response } = await client.chat.completions
        .create({ model, messages: [{ role: 'user', content: `hello ${model}` }], max_tokens: 5 }, { headers })
        .withResponse();
      expect(data.model).toBe(model);
      expect(data.choices[0]!.message.content).toBeTruthy();
      expect(cluster.endpointIds[pool]).toContain(response.headers.get('x-gateway-destination-endpoint'));
    });

    it(`${model}: streaming, every chunk names ${model}`, async () => {
      const headers = header ? { 'X-Gateway-Model-Name': model } : {};
      const { data: stream, response } = await client.chat.completions
        .create({ model, messages: [{ role: 'user', content: `stream ${model}` }], max_tokens: 5, stream: true }, { headers })
        .withResponse();
      let chunks = 0;
      let text = '';
      for await (const chunk of stream) {
        chunks++;
        expect(chunk.model).toBe(model);
        text += chunk.choices[0]?.delta?.content ?? '';
      }
      expect(chunks).toBeGreaterThanOrEqual(5);
      expect(text.length).toBeGreaterThan(0);
      expect(cluster.endpointIds[pool]).toContain(response.headers.get('x-gateway-destination-endpoint'));
    });
  }

  it('lists the served models in OpenAI shape', async () => {
    const list = await client.models.list();
    expect(list.data.map((m) => m.id).sort()).toEqual(['chatbot', 'english-bot', 'recommender', 'spanish-bot']);
  });

  it('completions and embeddings are routed too', async () => {
    const c = await client.completions.create({ model: 'chatbot', prompt: 'Once upon a time', max_tokens: 4 }, { headers: { 'X-Gateway-Model-Name': 'chatbot' } });
    expect(c.model).toBe('chatbot');
    expect(c.choices[0]!.text.length).toBeGreaterThan(0);
  });
});

describe('errors are OpenAI-shaped', () => {
  const url = () => `${cluster.gateway.url}/v1/chat/completions`;
  const expectError = async (res: Response, status: number, code: string) => {
    expect(res.status).toBe(status);
    const body = (await res.json()) as { error: { message: string; type: string; code: string; param: unknown } };
    expect(body.error.code).toBe(code);
    expect(typeof body.error.message).toBe('string');
    expect(body.error.message.length).toBeGreaterThan(20);
    expect(body.error).toHaveProperty('type');
    expect(body.error).toHaveProperty('param');
    return body.error;
  };

  it('400 for malformed JSON', async () => {
    await expectError(await postJson(url(), '{"model": "chatbot", '), 400, 'invalid_json');
  });
  it('400 naming the missing field', async () => {
    const err = await expectError(await postJson(url(), { model: 'english-bot' }), 400, 'missing_required_parameter');
    expect(err.param).toBe('messages');
    expect(err.message).toContain('messages');
  });
  it('400 for a field of the wrong type', async () => {
    const err = await expectError(await postJson(url(), { model: 'english-bot', messages: 'hi' }), 400, 'invalid_value');
    expect(err.param).toBe('messages');
  });
  it('404 for a model the table does not serve', async () => {
    const err = await expectError(await postJson(url(), chat('gpt-17')), 404, 'model_not_found');
    expect(err.message).toContain('gpt-17');
  });
  it('413 for a body over the limit (8 MiB default)', async () => {
    const big = chat('english-bot', 'x'.repeat(9 * 1024 * 1024));
    await expectError(await postJson(url(), big), 413, 'request_too_large');
  });
  it('404 for an unknown path', async () => {
    const res = await fetch(`${cluster.gateway.url}/v2/nothing`);
    await expectError(res, 404, 'unknown_url');
  });
});

describe('gateway metrics', () => {
  it('counts requests per pool, model and status on the admin port', async () => {
    await (await postJson(`${cluster.gateway.url}/v1/chat/completions`, chat('spanish-bot', 'count me', { max_tokens: 2 }))).arrayBuffer();
    const text = await (await fetch(`${cluster.gateway.adminUrl}/metrics`)).text();
    const line = text.split('\n').find((l) => l.startsWith('infergate_requests_total{pool="gemma3",model="spanish-bot",code="200"}'));
    expect(Number(line?.split(' ').pop())).toBeGreaterThanOrEqual(1);
    expect(text).toMatch(/infergate_time_to_first_token_seconds_count\{pool="gemma3"\} [1-9]/);
    expect(text).toContain('infergate_request_duration_seconds_bucket{pool="deepseek-r1",le="+Inf"}');
  });
});

describe('health', () => {
  it('healthz and readyz answer', async () => {
    expect((await fetch(`${cluster.gateway.url}/healthz`)).status).toBe(200);
    const ready = await fetch(`${cluster.gateway.url}/readyz`);
    expect(ready.status).toBe(200);
  });
});

describe('a pool with one pod stopped', () => {
  it('keeps serving every request', async () => {
    const gemma = cluster.pools.gemma3!;
    const stopped = gemma.pods[0]!;
    await stopped.setFaults({ stop_listening: true });
    await new Promise((r) => setTimeout(r, 100));
    try {
      const results = await Promise.all(
        Array.from({ length: 24 }, (_, i) => postJson(`${cluster.gateway.url}/v1/chat/completions`, chat('english-bot', `req ${i}`, { max_tokens: 2 }))),
      );
      const statuses = results.map((r) => r.status);
      const destinations = new Set(results.map((r) => r.headers.get('x-gateway-destination-endpoint')));
      await Promise.all(results.map((r) => r.arrayBuffer()));
      expect(statuses.every((s) => s === 200)).toBe(true);
      expect(destinations.has(`127.0.0.1:${stopped.port}`)).toBe(false);
      expect(destinations.size).toBe(2);
    } finally {
      await stopped.setFaults({});
    }
  });
});
