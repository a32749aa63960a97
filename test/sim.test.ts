/**
 * The simulator's acceptance tests, over real sockets on loopback. Engine
 * time runs faster than wall time (`timeScale`) where only the model's own
 * latency histograms are compared.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.ts';
import { startSimulator } from '../src/runtime/node/index.ts';
import { chat, metric, parsePrometheus, postJson, scrape, sleep, streamTimed } from './sim-helpers.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const sims: Simulator[] = [];
async function sim(options: Parameters<typeof startSimulator>[0]) {
  const s = await startSimulator({ port: 0, ...options });
  sims.push(s);
  return s;
}
afterAll(async () => {
  await Promise.all(sims.map((s) => s.close()));
});

const meanTtft = (samples: ReturnType<typeof parsePrometheus>) =>
  metric(samples, 'vllm:time_to_first_token_seconds_sum')! / metric(samples, 'vllm:time_to_first_token_seconds_count')!;

describe('OpenAI API', () => {
  let url: string;
  let client: OpenAI;
  beforeAll(async () => {
    const s = await sim({ loras: ['english-bot'], timeScale: 0.1 });
    url = s.pods[0]!.url;
    client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });

  it('answers a chat completion with usage and honours max_tokens', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'x'.repeat(400) }], max_tokens: 7 });
    expect(r.object).toBe('chat.completion');
    expect(r.model).toBe(MODEL);
    expect(r.choices[0]!.finish_reason).toBe('length');
    expect(r.usage).toMatchObject({ prompt_tokens: 101, completion_tokens: 7, total_tokens: 108 }); // "user" + 400 chars
  });

  it('stops at the hinted length with finish_reason stop, or runs to max_tokens with ignore_eos', async () => {
    const hinted = await postJson(`${url}/v1/completions`, { model: MODEL, prompt: 'hello', max_tokens: 50, sim_output_tokens: 5 }).then((r) => r.json());
    expect(hinted.choices[0].finish_reason).toBe('stop');
    expect(hinted.usage.completion_tokens).toBe(5);
    const eos = await postJson(`${url}/v1/completions`, { model: MODEL, prompt: 'hello', max_tokens: 50, sim_output_tokens: 5, ignore_eos: true }).then((r) => r.json());
    expect(eos.usage.completion_tokens).toBe(50);
  });

  it('streams SSE chunks with the asked model, usage last, then [DONE]', async () => {
    const stream = await client.chat.completions.create({
      model: 'english-bot',
      messages: [{ role: 'user', content: 'hi' }],
      max_completion_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.model === 'english-bot')).toBe(true);
    const text = chunks.map((c) => c.choices[0]?.delta.content ?? '').join('');
    expect(text.length).toBeGreaterThan(0);
    expect(chunks.at(-2)!.choices[0]!.finish_reason).toBe('length');
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toMatchObject({ completion_tokens: 5 });
    const raw = await streamTimed(url, chat(MODEL, 'hi', { max_tokens: 2 }));
    expect(raw.events.at(-1)).toBe('data: [DONE]');
    expect(raw.events.every((e) => e.startsWith('data: '))).toBe(true);
  });

  it("answers vLLM's 404 for an unknown model or adapter", async () => {
    const r = await postJson(`${url}/v1/chat/completions`, chat('nope', 'hi'));
    expect(r.status).toBe(404);
    expect(await r.json()).toEqual({ object: 'error', message: 'The model `nope` does not exist.', type: 'NotFoundError', param: null, code: 404 });
    await expect(client.chat.completions.create({ model: 'spanish-bot', messages: [{ role: 'user', content: 'hola' }] })).rejects.toMatchObject({ status: 404 });
  });

  it('lists the base model and adapters with parent, and loads / unloads adapters', async () => {
    const list = async () => (await client.models.list()).data.map((m) => [m.id, (m as unknown as { parent: string | null }).parent]);
    expect(await list()).toEqual([[MODEL, null], ['english-bot', MODEL]]);
    expect((await postJson(`${url}/v1/load_lora_adapter`, { lora_name: 'spanish-bot', lora_path: '/x' })).status).toBe(200);
    expect(await list()).toContainEqual(['spanish-bot', MODEL]);
    expect((await client.chat.completions.create({ model: 'spanish-bot', messages: [{ role: 'user', content: 'hola' }], max_tokens: 1 })).model).toBe('spanish-bot');
    expect((await postJson(`${url}/v1/unload_lora_adapter`, { lora_name: 'spanish-bot' })).status).toBe(200);
    expect((await postJson(`${url}/v1/unload_lora_adapter`, { lora_name: 'spanish-bot' })).status).toBe(404);
  });

  it('serves embeddings as prefill-only work', async () => {
    const r = await client.embeddings.create({ model: MODEL, input: ['a'.repeat(40), 'b'] });
    expect(r.data).toHaveLength(2);
    expect(r.usage.prompt_tokens).toBe(11);
  });

  it('rejects bad bodies and over-long prompts with 400', async () => {
    expect((await postJson(`${url}/v1/chat/completions`, { model: MODEL })).status).toBe(400);
    const long = await postJson(`${url}/v1/chat/completions`, chat(MODEL, 'x'.repeat(40_000)));
    expect(long.status).toBe(400);
    expect((await long.json()).message).toMatch(/maximum context length is 8192 tokens/);
  });
});

describe('queueing under load', () => {
  it('keeps waiting and TTFT low below capacity and grows them above it', async () => {
    const body = chat(MODEL, 'y'.repeat(2000), { max_tokens: 60, ignore_eos: true });
    const low = (await sim({ timeScale: 0.2, engineConfig: { maxNumSeqs: 8 } })).pods[0]!.url;
    for (let i = 0; i < 3; i++) await Promise.all([postJson(`${low}/v1/chat/completions`, body), postJson(`${low}/v1/chat/completions`, body)]);
    const lowSamples = await scrape(low);

    // A wave (8 × 60 tokens ≈ 400 ms engine, 200 ms wall) outlasts the arrival of 64 connections on a busy machine.
    const high = (await sim({ timeScale: 0.5, engineConfig: { maxNumSeqs: 8 } })).pods[0]!.url;
    let settled = false;
    const flood = Promise.all(Array.from({ length: 64 }, () => postJson(`${high}/v1/chat/completions`, body))).finally(() => (settled = true));
    let maxWaiting = 0;
    let maxRunning = 0;
    while (!settled) {
      const during = await scrape(high);
      maxWaiting = Math.max(maxWaiting, metric(during, 'vllm:num_requests_waiting')!);
      maxRunning = Math.max(maxRunning, metric(during, 'vllm:num_requests_running')!);
      await sleep(20);
    }
    await flood;
    const highSamples = await scrape(high);
    const meanQueue = (x: typeof lowSamples) => metric(x, 'vllm:request_queue_time_seconds_sum')! / metric(x, 'vllm:request_queue_time_seconds_count')!;

    expect(maxRunning).toBe(8);
    expect(maxWaiting).toBeGreaterThan(24);
    expect(metric(lowSamples, 'vllm:num_requests_waiting')).toBe(0);
    expect(meanQueue(lowSamples)).toBeLessThan(0.02);
    expect(meanQueue(highSamples)).toBeGreaterThan(0.5);
    expect(meanTtft(lowSamples)).toBeLessThan(0.06);
    expect(meanTtft(highSamples)).toBeGreaterThan(10 * meanTtft(lowSamples));
    expect(metric(highSamples, 'vllm:request_success_total', { finished_reason: 'length' })).toBe(64);
  });
});

describe('prefix caching', () => {
  it('hits on the pod that served the prompt, not on another pod', async () => {
    const s = await sim({ pods: 2, timeScale: 0.1 });
    const [a, b] = s.pods.map((p) => p.url) as [string, string];
    const prompt = chat(MODEL, 'The quick brown fox. '.repeat(800), { max_tokens: 1 }); // ≈ 4200 tokens
    /** Sends the prompt and returns its TTFT as the pod's histogram saw it (engine seconds) and its cached tokens. */
    const send = async (url: string) => {
      const before = metric(await scrape(url), 'vllm:time_to_first_token_seconds_sum')!;
      const r = await (await postJson(`${url}/v1/chat/completions`, prompt)).json();
      const ttft = metric(await scrape(url), 'vllm:time_to_first_token_seconds_sum')! - before;
      return { ttft, cached: r.usage.prompt_tokens_details.cached_tokens as number };
    };
    const first = await send(a);
    const hitsAfterFirst = metric(await scrape(a), 'vllm:prefix_cache_hits_total')!;
    const second = await send(a);
    const other = await send(b);
    const [ma, mb] = [await scrape(a), await scrape(b)];
    expect(first.ttft).toBeGreaterThan(0.09); // ≈ 105 ms of prefill on an idle pod
    expect(first.cached).toBe(0);
    expect(second.ttft).toBeLessThan(first.ttft * 0.2);
    expect(second.cached).toBeGreaterThan(4000);
    expect(hitsAfterFirst).toBe(0);
    expect(metric(ma, 'vllm:prefix_cache_hits_total')).toBe(second.cached);
    expect(metric(ma, 'vllm:prefix_cache_queries_total')).toBeGreaterThan(8000);
    expect(other.cached).toBe(0);
    expect(other.ttft).toBeGreaterThan(0.09);
    expect(metric(mb, 'vllm:prefix_cache_hits_total')).toBe(0);
  });
});

describe('LoRA', () => {
  it('charges the adapter load to a cold request, and makes another adapter wait while max_loras are busy', async () => {
    const s = await sim({ loras: ['a', 'b'], timeScale: 0.2, engineConfig: { maxLoras: 1 } });
    const url = s.pods[0]!.url;
    await postJson(`${url}/v1/chat/completions`, chat('a', 'hello', { max_tokens: 1 }));
    const cold = meanTtft(await scrape(url));
    expect(cold).toBeGreaterThan(0.25); // 250 ms load + one step
    await postJson(`${url}/v1/chat/completions`, chat('a', 'hello', { max_tokens: 1 }));
    const both = await scrape(url);
    const warm = metric(both, 'vllm:time_to_first_token_seconds_sum')! - cold;
    expect(warm).toBeLessThan(0.02);

    const long = postJson(`${url}/v1/chat/completions`, chat('a', 'hello', { max_tokens: 400, ignore_eos: true }));
    await sleep(40);
    const other = postJson(`${url}/v1/chat/completions`, chat('b', 'hola', { max_tokens: 1 }));
    await sleep(40);
    const mid = await scrape(url);
    const info = mid.find((x) => x.name === 'vllm:lora_requests_info')!;
    expect(info.labels).toMatchObject({ max_lora: '1', running_lora_adapters: 'a', waiting_lora_adapters: 'b' });
    expect(metric(mid, 'vllm:num_requests_waiting')).toBe(1);
    const longDoneAt = await long.then(() => performance.now());
    const otherDoneAt = await other.then(() => performance.now());
    expect(otherDoneAt).toBeGreaterThanOrEqual(longDoneAt);
  });
});

describe('KV-cache pressure', () => {
  it('fills the cache towards 1, preempts, and still completes every request', async () => {
    const s = await sim({ timeScale: 0.05, engineConfig: { numGpuBlocks: 300 } });
    const url = s.pods[0]!.url;
    const reqs = Array.from({ length: 24 }, (_, i) =>
      postJson(`${url}/v1/completions`, { model: MODEL, prompt: `${i} `.padEnd(1600, 'z'), max_tokens: 300, ignore_eos: true }).then((r) => r.json()),
    );
    let maxUsage = 0;
    let settled = false;
    const all = Promise.all(reqs).finally(() => (settled = true));
    while (!settled) {
      maxUsage = Math.max(maxUsage, metric(await scrape(url), 'vllm:kv_cache_usage_perc')!);
      await sleep(10);
    }
    const results = await all;
    expect(results.map((r) => r.usage.completion_tokens)).toEqual(Array(24).fill(300));
    expect(maxUsage).toBeGreaterThan(0.9);
    const end = await scrape(url);
    expect(metric(end, 'vllm:num_preemptions_total')).toBeGreaterThan(0);
    expect(metric(end, 'vllm:kv_cache_usage_perc')).toBe(0);
  });
});

describe('/metrics', () => {
  it('is valid Prometheus exposition with the vLLM names', async () => {
    const s = await sim({ loras: ['a'], timeScale: 0.1 });
    const url = s.pods[0]!.url;
    await postJson(`${url}/v1/chat/completions`, chat('a', 'hi', { max_tokens: 3 }));
    const samples = await scrape(url);
    for (const name of [
      'vllm:num_requests_waiting',
      'vllm:num_requests_running',
      'vllm:kv_cache_usage_perc',
      'vllm:gpu_cache_usage_perc',
      'vllm:prefix_cache_queries_total',
      'vllm:prefix_cache_hits_total',
      'vllm:time_to_first_token_seconds_bucket',
      'vllm:inter_token_latency_seconds_count',
      'vllm:prompt_tokens_total',
      'vllm:generation_tokens_total',
    ]) {
      expect(metric(samples, name), name).toBeDefined();
    }
    expect(metric(samples, 'vllm:generation_tokens_total')).toBe(3);
    expect(metric(samples, 'vllm:request_success_total', { finished_reason: 'length' })).toBe(1);
    const cache = samples.find((x) => x.name === 'vllm:cache_config_info')!;
    expect(cache.labels).toMatchObject({ block_size: '16', num_gpu_blocks: '28800' });
    const lora = samples.find((x) => x.name === 'vllm:lora_requests_info')!;
    expect(Math.abs(lora.value - Date.now() / 1000)).toBeLessThan(60); // a timestamp, like vLLM's
  });

  it('is valid Prometheus exposition with the SGLang names', async () => {
    const s = await sim({ engine: 'sglang', timeScale: 0.1 });
    const url = s.pods[0]!.url;
    await postJson(`${url}/v1/chat/completions`, chat(MODEL, 'hi', { max_tokens: 2 }));
    const samples = await scrape(url);
    for (const name of ['sglang:num_queue_reqs', 'sglang:num_running_reqs', 'sglang:token_usage', 'sglang:cache_config_info']) {
      expect(metric(samples, name), name).toBeDefined();
    }
    expect(samples.some((x) => x.name.startsWith('vllm:'))).toBe(false);
    expect(metric(samples, 'sglang:generation_tokens_total')).toBe(2);
  });

  it('the checker rejects malformed exposition', () => {
    const ok = '# HELP a x\n# TYPE a gauge\na{l="v"} 1.0\n';
    expect(parsePrometheus(ok)).toHaveLength(1);
    expect(() => parsePrometheus('a 1\n')).toThrow(/without TYPE/);
    expect(() => parsePrometheus('# TYPE a gauge\na{l=v} 1\n')).toThrow(/unquoted/);
    expect(() => parsePrometheus('# TYPE a gauge\na 1,0\n')).toThrow(/bad value/);
    expect(() => parsePrometheus('# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_count 1\nh_sum 0\n')).toThrow(/cumulative/);
    expect(() => parsePrometheus('# TYPE a gauge\n# TYPE b gauge\nb 1\na 1\n')).toThrow(/outside/);
  });
});
