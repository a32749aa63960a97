/**
 * Token ids from the pool's pods (a simulated vLLM's /tokenize over a real
 * socket): a prompt never seen waits for the pod; the same prompt again is a
 * cache hit; a conversation's next turn is answered at once with the
 * previous turn's tokens (a prefix of the new ones) while the whole prompt is
 * tokenized in the background; an adapter's name comes from /v1/models; a
 * pod that cannot answer is an error outcome, not a throw.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Endpoint } from '../src/endpoints/types.ts';
import type { Pool } from '../src/routing/schema.ts';
import { startSimulator } from '../src/runtime/node/index.ts';
import type { PromptTokens, TokenizeOutcome } from '../src/scheduling/prompt-tokens.ts';
import type { ChatMessage, SchedulingRequest } from '../src/scheduling/scheduler.ts';
import type { Simulator } from '../src/sim/index.ts';
import { PodTokenizer } from '../src/tokenize/pod-tokenizer.ts';
import { PromptTokenCache } from '../src/tokenize/prompt-cache.ts';

let sim: Simulator | undefined;
afterEach(async () => {
  await sim?.close();
  sim = undefined;
});

const pool = { name: 'p' } as Pool;
const endpoint = (port: number): Endpoint => ({ id: `127.0.0.1:${port}`, address: '127.0.0.1', port, labels: {}, ready: true, engine: 'vllm' });
const chat = (model: string, messages: ChatMessage[]): SchedulingRequest => ({ requestId: 'r', targetModel: model, requestedModel: model, prompt: '', messages, criticality: 'Standard', priority: 0, explain: false });
const tokensOf = (o: TokenizeOutcome): PromptTokens => {
  if ('error' in o) throw new Error(o.error);
  return o;
};

describe('PodTokenizer', () => {
  it('tokenizes through a pod, then answers from its cache by conversation prefix', async () => {
    sim = await startSimulator({ pods: 1, port: 0, model: 'base', loras: ['english-bot'], timeScale: 0.01 });
    const pods = [endpoint(sim.pods[0]!.port)];
    const tok = new PodTokenizer();
    const turn1 = [{ role: 'system', content: 'You are terse. '.repeat(20) }, { role: 'user', content: 'Hi' }];
    const first = tokenizer(tok.tokenize(pool, pods, chat('base', turn1)));
    const t1 = tokensOf(await first);
    expect(t1).toMatchObject({ partial: false, loraName: null, source: `pod 127.0.0.1:${sim.pods[0]!.port} /tokenize` });
    const direct = (await (await fetch(`${sim.pods[0]!.url}/tokenize`, { method: 'POST', body: JSON.stringify({ messages: turn1 }) })).json()) as { tokens: number[] };
    expect(Array.from(t1.tokens)).toEqual(direct.tokens);
    expect(tokensOf(tok.tokenize(pool, pods, chat('base', turn1)) as TokenizeOutcome).source).toBe('cache');

    const turn2 = [...turn1, { role: 'assistant', content: 'Hello.' }, { role: 'user', content: 'More?' }];
    const now = tok.tokenize(pool, pods, chat('base', turn2));
    expect(now).not.toBeInstanceOf(Promise);
    expect(tokensOf(now as TokenizeOutcome)).toMatchObject({ partial: true, tokens: t1.tokens });
    await until(() => tok.stats.tokenizeCalls === 2);
    expect(tokensOf(tok.tokenize(pool, pods, chat('base', turn2)) as TokenizeOutcome).partial).toBe(false);

    const lora = tokensOf(await tok.tokenize(pool, pods, chat('english-bot', turn1)));
    expect(lora.loraName).toBe('english-bot');
  });

  it('a pod that does not answer is an error outcome within the time limit', async () => {
    const tok = new PodTokenizer({ timeoutMs: 300 });
    const o = await tok.tokenize(pool, [endpoint(1)], chat('base', [{ role: 'user', content: 'x' }]));
    expect(o).toMatchObject({ error: expect.stringMatching(/127\.0\.0\.1:1 \/tokenize/) });
  });
});

describe('PodTokenizer: what else the chat template renders', () => {
  it('sends /tokenize the chat request\'s tools, kwargs and prompt flags, and keys its cache by them and by the salt', async () => {
    const sent: Record<string, unknown>[] = [];
    const fakeFetch = (async (url: string | URL | Request, init?: RequestInit) => {
      if (!String(url).endsWith('/tokenize')) return new Response(JSON.stringify({ data: [] }));
      const body = JSON.parse(String(init?.body)) as Record<string, unknown>;
      sent.push(body);
      // A template that puts the tools in the system turn (Qwen2.5's) renders more tokens with them.
      return new Response(JSON.stringify({ tokens: body.tools ? [1, 2, 3, 4] : [1, 2, 3] }));
    }) as typeof fetch;
    const tok = new PodTokenizer({ fetch: fakeFetch });
    const pods = [endpoint(8000)];
    const messages = [{ role: 'user', content: 'weather in Paris?' }];
    const tools = [{ type: 'function', function: { name: 'get_weather', parameters: { type: 'object' } } }];
    tokensOf(await tok.tokenize(pool, pods, chat('qwen', messages)));
    const withTools = tokensOf(await tok.tokenize(pool, pods, { ...chat('qwen', messages), chatTemplate: { tools, chat_template_kwargs: { enable_thinking: false } } }));
    expect(sent[0]).toEqual({ model: 'qwen', messages, add_generation_prompt: true });
    expect(sent[1]).toEqual({ model: 'qwen', messages, tools, chat_template_kwargs: { enable_thinking: false }, add_generation_prompt: true });
    expect(Array.from(withTools.tokens)).toEqual([1, 2, 3, 4]);
    // Continuing the final message: no generation prompt (vLLM refuses both).
    await tok.tokenize(pool, pods, { ...chat('qwen', [...messages, { role: 'assistant', content: 'It is' }]), chatTemplate: { continue_final_message: true } });
    expect(sent[2]).toMatchObject({ continue_final_message: true, add_generation_prompt: false });
    // Another tenant's salt: asked again, not answered from the cache (a hit would show in the decision's latency).
    await tok.tokenize(pool, pods, { ...chat('qwen', messages), cacheSalt: 'tenant-a' });
    expect(sent).toHaveLength(4);
  });
});

describe('PromptTokenCache', () => {
  it('finds a completion\'s earlier prompt by text and evicts by tokens held', () => {
    const cache = new PromptTokenCache(10, 100);
    const req = (prompt: string): SchedulingRequest => ({ requestId: 'r', targetModel: 'm', requestedModel: 'm', prompt, criticality: 'Standard', priority: 0, explain: false });
    cache.store(req('hello world'), { tokens: new Uint32Array(60), loraName: null });
    expect(cache.find(req('hello world and more'))).toMatchObject({ partial: true });
    expect(cache.find(req('hello world'))).toMatchObject({ partial: false });
    expect(cache.find(req('goodbye'))).toBeUndefined();
    cache.store(req('second prompt'), { tokens: new Uint32Array(60), loraName: null });
    expect(cache.size).toBe(1);
    expect(cache.find(req('hello world'))).toBeUndefined();
  });
});

function tokenizer(r: TokenizeOutcome | Promise<TokenizeOutcome>): Promise<TokenizeOutcome> {
  expect(r).toBeInstanceOf(Promise);
  return r as Promise<TokenizeOutcome>;
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 10));
  }
}
