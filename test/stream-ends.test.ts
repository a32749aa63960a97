/**
 * How a streamed answer ends through the gateway when its pod misbehaves at
 * the edges (the reviewer's findings): a connection that breaks after the
 * answer finished, reasoning streamed before a break, SSE of other APIs
 * (/v1/responses), a completions continuation without max_tokens, half an
 * event left by a connection closed normally, n > 1 answers — and vLLM's
 * other request forms. Two scripted pods on loopback: the first attempt of a
 * request (by `x-test-id`) runs its script, any later one (a continuation)
 * answers normally.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import OpenAI, { type APIError } from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import { postJson } from './harness.ts';
import { staticEndpoints } from './static-endpoints.ts';

type Script = (res: http.ServerResponse, body: Record<string, unknown>) => Promise<void> | void;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const scripts = new Map<string, Script>();
/** Every request a pod received, in order. */
const received: { testId: string; path: string; body: Record<string, unknown> }[] = [];
const servers: http.Server[] = [];
let gateway: RunningGateway;
let nextId = 0;

const chunk = (model: unknown, delta: Record<string, unknown>, finish: string | null = null, index = 0) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model, choices: [{ index, delta, logprobs: null, finish_reason: finish }] })}\n\n`;
const textChunk = (model: unknown, text: string, finish: string | null = null) =>
  `data: ${JSON.stringify({ id: 'cmpl-1', object: 'text_completion', created: 1, model, choices: [{ index: 0, text, logprobs: null, finish_reason: finish }] })}\n\n`;

/** A well-behaved pod: ` c0`… (up to max_tokens, at most 5), finish_reason `length`, `[DONE]`. */
async function normal(res: http.ServerResponse, body: Record<string, unknown>, path: string): Promise<void> {
  if (path === '/v1/embeddings') {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ object: 'list', model: body.model, data: [{ object: 'embedding', index: 0, embedding: [0.1, 0.2] }], usage: { prompt_tokens: 3, total_tokens: 3 } }));
    return;
  }
  if (!body.stream) {
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ id: 'cmpl-1', object: 'text_completion', created: 1, model: body.model, choices: [{ index: 0, text: 'ok', finish_reason: 'stop' }] }));
    return;
  }
  const completions = path === '/v1/completions';
  res.writeHead(200, { 'content-type': 'text/event-stream' });
  if (!completions) res.write(chunk(body.model, { role: 'assistant', content: '' }));
  const n = Math.min(typeof body.max_tokens === 'number' ? body.max_tokens : 5, 5);
  for (let i = 0; i < n; i++) res.write(completions ? textChunk(body.model, ` c${i}`) : chunk(body.model, { content: ` c${i}` }));
  res.write(completions ? textChunk(body.model, '', 'length') : chunk(body.model, {}, 'length'));
  res.end('data: [DONE]\n\n');
}

async function startPod(): Promise<number> {
  const server = http.createServer((req, res) => {
    let raw = '';
    req.on('data', (c) => (raw += c));
    req.on('end', () => {
      const body = JSON.parse(raw) as Record<string, unknown>;
      const testId = String(req.headers['x-test-id'] ?? '');
      received.push({ testId, path: req.url ?? '', body });
      const script = scripts.get(testId);
      scripts.delete(testId);
      void (script ? script(res, body) : normal(res, body, req.url ?? ''));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  return (server.address() as AddressInfo).port;
}

/** Headers that give the next request this script on its first attempt. */
function scripted(script?: Script): Record<string, string> {
  const testId = `t${++nextId}`;
  if (script) scripts.set(testId, script);
  return { 'x-test-id': testId };
}
const sentFor = (headers: Record<string, string>) => received.filter((r) => r.testId === headers['x-test-id']);
/** The error a stream's reading ended with (the openai client raises an SSE error event), or undefined. */
async function failureOf(read: () => Promise<void>): Promise<APIError | undefined> {
  try {
    await read();
    return undefined;
  } catch (err) {
    return err as APIError;
  }
}
const client = (headers: Record<string, string>) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: headers });

beforeAll(async () => {
  const ports = [await startPod(), await startPod()];
  gateway = await startGateway({ port: 0, log: () => {}, endpointSource: staticEndpoints(ports.map((port) => ({ address: '127.0.0.1', port, labels: { pool: 'p' }, engine: 'vllm' as const }))) });
  const applied = gateway.store.apply({
    routes: [{ name: 'all', rules: [{ matches: [{ path: { type: 'Exact', value: '/v1/responses' } }], backendRefs: [{ pool: 'p' }] }, { backendRefs: [{ pool: 'p' }] }] }],
    pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' }],
    rewrites: [{ name: 'rw', pool: 'p', rules: [{ models: ['alias'], targets: [{ model: 'real' }] }] }],
  } as Parameters<RunningGateway['store']['apply']>[0]);
  expect(applied.ok).toBe(true);
});
afterAll(async () => {
  await gateway?.close();
  for (const s of servers) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

describe('an answer that finished is over', () => {
  it('a connection reset after finish_reason and the usage chunk: the answer as it was, [DONE] added, nothing sent elsewhere', async () => {
    const headers = scripted(async (res, body) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const c of ['Hello', ' there', '.']) res.write(chunk(body.model, { content: c }));
      res.write(chunk(body.model, {}, 'stop'));
      res.write(`data: ${JSON.stringify({ id: 'chatcmpl-1', object: 'chat.completion.chunk', created: 1, model: body.model, choices: [], usage: { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 } })}\n\n`);
      await sleep(20);
      res.socket!.resetAndDestroy();
    });
    const stream = await client(headers).chat.completions.create({ model: 'alias', messages: [{ role: 'user', content: 'hi' }], stream: true, stream_options: { include_usage: true } });
    let text = '';
    let usage: unknown;
    for await (const c of stream) {
      text += c.choices[0]?.delta.content ?? '';
      usage ??= c.usage ?? undefined;
      expect(c.model).toBe('alias');
    }
    expect(text).toBe('Hello there.');
    expect(usage).toEqual({ prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
    expect(sentFor(headers)).toHaveLength(1);
  });

  it('a connection reset after [DONE]: nothing follows it', async () => {
    const headers = scripted(async (res, body) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk(body.model, { content: 'Hello' }) + chunk(body.model, {}, 'stop') + 'data: [DONE]\n\n');
      await sleep(20);
      res.socket!.resetAndDestroy();
    });
    const res = await postJson(`${gateway.url}/v1/chat/completions`, { model: 'real', messages: [{ role: 'user', content: 'hi' }], stream: true }, headers);
    const text = await res.text();
    expect(text.endsWith('data: {"id":"chatcmpl-1","object":"chat.completion.chunk","created":1,"model":"real","choices":[{"index":0,"delta":{},"logprobs":null,"finish_reason":"stop"}]}\n\ndata: [DONE]\n\n')).toBe(true);
    expect(text.match(/\[DONE\]/g)).toHaveLength(1);
    expect(sentFor(headers)).toHaveLength(1);
  });
});

describe('reasoning streamed before a break', () => {
  it.each(['reasoning_content', 'reasoning'])('delta.%s: reasoning reaches the client once, then the error event (it is not continued)', async (field) => {
    const headers = scripted(async (res, body) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk(body.model, { role: 'assistant', content: '' }));
      for (const r of ['Let me think.', ' Step 1.']) res.write(chunk(body.model, { [field]: r, content: null }));
      await sleep(20);
      res.socket!.resetAndDestroy();
    });
    const stream = await client(headers).chat.completions.create({ model: 'real', messages: [{ role: 'user', content: 'q' }], stream: true, max_tokens: 100 });
    let reasoning = '';
    const failure = await failureOf(async () => {
      for await (const c of stream) reasoning += ((c.choices[0]?.delta ?? {}) as Record<string, string | undefined>)[field] ?? '';
    });
    expect(reasoning).toBe('Let me think. Step 1.');
    expect(failure?.code).toBe('upstream_reset');
    expect(failure?.message).toContain('reasoning');
    expect(sentFor(headers)).toHaveLength(1);
  });
});

describe('SSE of other APIs passes through', () => {
  it("a /v1/responses stream (the openai client's responses.create) ends cleanly, with the client's model name in every event", async () => {
    const headers = scripted((res, body) => {
      const response = (status: string) => ({ id: 'resp_1', object: 'response', created_at: 1, status, model: body.model, output: [], parallel_tool_calls: true, tool_choice: 'auto', tools: [] });
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`event: response.created\ndata: ${JSON.stringify({ type: 'response.created', sequence_number: 0, response: response('in_progress') })}\n\n`);
      res.write(`event: response.output_text.delta\ndata: ${JSON.stringify({ type: 'response.output_text.delta', sequence_number: 1, item_id: 'm', output_index: 0, content_index: 0, delta: 'hi' })}\n\n`);
      res.end(`event: response.completed\ndata: ${JSON.stringify({ type: 'response.completed', sequence_number: 2, response: response('completed') })}\n\n`);
    });
    const events: { type: string; model?: string }[] = [];
    const stream = await client(headers).responses.create({ model: 'alias', input: 'hi', stream: true });
    for await (const e of stream) events.push({ type: e.type, ...('response' in e ? { model: e.response.model } : {}) });
    expect(sentFor(headers)[0]!.body.model).toBe('real');
    expect(events).toEqual([
      { type: 'response.created', model: 'alias' },
      { type: 'response.output_text.delta' },
      { type: 'response.completed', model: 'alias' },
    ]);
  });
});

describe('continuations', () => {
  it('a completions answer without max_tokens is continued within the default 16', async () => {
    const headers = scripted(async (res, body) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      for (const t of ['one', ' two', ' three']) res.write(textChunk(body.model, t));
      await sleep(20);
      res.socket!.resetAndDestroy();
    });
    const stream = await client(headers).completions.create({ model: 'real', prompt: 'Count:', stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.text ?? '';
    expect(text).toBe('one two three c0 c1 c2 c3 c4');
    const sent = sentFor(headers);
    expect(sent).toHaveLength(2);
    expect(sent[1]!.body).toMatchObject({ prompt: 'Count:one two three', max_tokens: 13 });
  });

  it('half an event left by a pod that closes its connection normally never reaches the client; the answer is continued', async () => {
    const headers = scripted(async (res, body) => {
      // A close-delimited body (no length, no chunking): its end is a normal end, the half event after it is all that is left.
      const socket = res.socket!;
      socket.write('HTTP/1.1 200 OK\r\ncontent-type: text/event-stream\r\nconnection: close\r\n\r\n');
      for (const c of ['Hello', ' there']) socket.write(chunk(body.model, { content: c }));
      socket.write(chunk(body.model, { content: ' friend' }).slice(0, 40));
      await sleep(20);
      socket.end();
    });
    const stream = await client(headers).chat.completions.create({ model: 'real', messages: [{ role: 'user', content: 'hi' }], stream: true });
    let text = '';
    for await (const c of stream) text += c.choices[0]?.delta.content ?? '';
    expect(text).toBe('Hello there c0 c1 c2 c3 c4');
    expect(sentFor(headers)[1]!.body.messages).toEqual([{ role: 'user', content: 'hi' }, { role: 'assistant', content: 'Hello there' }]);
  });
});

describe('n > 1', () => {
  it('a stream that ends without [DONE] while choice 1 is unfinished ends with the error event, though choice 0 finished', async () => {
    const headers = scripted(async (res, body) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(chunk(body.model, { content: 'A' }, null, 0) + chunk(body.model, { content: 'B' }, null, 1) + chunk(body.model, {}, 'stop', 0) + chunk(body.model, { content: 'B2' }, null, 1));
      await sleep(20);
      res.end();
    });
    const stream = await client(headers).chat.completions.create({ model: 'real', n: 2, messages: [{ role: 'user', content: 'hi' }], stream: true });
    const texts = ['', ''];
    const failure = await failureOf(async () => {
      for await (const c of stream) for (const choice of c.choices) texts[choice.index] += choice.delta.content ?? '';
    });
    expect(texts).toEqual(['A', 'BB2']);
    expect(failure?.code).toBe('upstream_reset');
    expect(failure?.message).toContain('several choices');
    expect(sentFor(headers)).toHaveLength(1);
  });
});

describe("vLLM's other request forms", () => {
  it('/v1/embeddings with messages (chat embeddings) and /v1/completions with prompt_embeds are forwarded', async () => {
    const chatEmbeddings = scripted();
    const res = await postJson(`${gateway.url}/v1/embeddings`, { model: 'alias', messages: [{ role: 'user', content: 'embed me' }] }, chatEmbeddings);
    expect(res.status).toBe(200);
    expect(((await res.json()) as { model: string }).model).toBe('alias');
    expect(sentFor(chatEmbeddings)[0]!.body).toMatchObject({ model: 'real', messages: [{ role: 'user', content: 'embed me' }] });

    const promptEmbeds = scripted();
    const completion = await postJson(`${gateway.url}/v1/completions`, { model: 'real', prompt_embeds: 'AAAA', max_tokens: 2 }, promptEmbeds);
    expect(completion.status).toBe(200);
    expect(sentFor(promptEmbeds)[0]!.body).toMatchObject({ prompt_embeds: 'AAAA' });

    const neither = await postJson(`${gateway.url}/v1/completions`, { model: 'real' }, scripted());
    expect(neither.status).toBe(400);
    expect(((await neither.json()) as { error: { message: string } }).error.message).toContain('"prompt" (or "prompt_embeds")');
  });
});
