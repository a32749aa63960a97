/**
 * Token budgets end to end (issue 17 ★), real gateways and simulated pods,
 * the official openai client: a tenant over its TokenBudget is refused with
 * 429 and OpenAI's rate-limit headers before any pod sees the request; what
 * each tenant is charged reconciles exactly to the answers' usage (streamed
 * too); two gateway replicas sharing one real redis-server never let a tenant
 * overshoot by more than one request's reservation, nor exceed its requests
 * in flight; an unreachable store fails open or closed as configured.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { gzipSync } from 'node:zlib';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI, { APIError } from 'openai';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { keyDigest } from '../src/api/api-keys.ts';
import type { Simulator } from '../src/sim/index.ts';
import { startGateway, startSimulator, type RunningGateway, type StartGatewayOptions } from '../src/runtime/node/index.ts';
import type { RoutingTableInput } from '../src/routing/schema.ts';
import { entriesFor, writeEndpointsFile } from './harness.ts';
import { startRedis, type RunningRedis } from './redis-server.ts';

const MODEL = 'base';
const KEYS = { 'team-a': 'sk-ig-team-a-key', 'team-b': 'sk-ig-team-b-key' };
let dir: string;
let redis: RunningRedis;
const running: Array<{ close(): Promise<void> }> = [];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'infergate-budgets-'));
  writeFileSync(join(dir, 'keys.yaml'), `keys:\n${Object.entries(KEYS).map(([tenant, key]) => `  - name: ${tenant}\n    tenant: ${tenant}\n    sha256: ${keyDigest(key)}\n`).join('')}`);
  redis = await startRedis();
}, 15_000);
afterAll(async () => {
  await redis?.close();
});
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close();
});

const table = (budgets: RoutingTableInput['budgets']): RoutingTableInput => ({
  routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
  pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' }],
  models: [{ name: MODEL, pool: 'p' }],
  budgets,
});

async function pods(options: { timeScale?: number } = {}): Promise<{ sim: Simulator; endpoints: string }> {
  const sim = await startSimulator({ pods: 2, port: 0, model: MODEL, timeScale: options.timeScale ?? 0.05 });
  running.push(sim);
  return { sim, endpoints: writeEndpointsFile(entriesFor(sim, { pool: 'p' })) };
}

async function gatewayFor(endpoints: string, budgets: RoutingTableInput['budgets'], options: Partial<StartGatewayOptions> = {}): Promise<RunningGateway> {
  const gateway = await startGateway({ port: 0, endpoints, scrapeIntervalMs: 10, apiKeys: join(dir, 'keys.yaml'), log: () => {}, ...options });
  running.push(gateway);
  expect(gateway.store.apply(table(budgets)).ok).toBe(true);
  return gateway;
}

const client = (gateway: RunningGateway, tenant: keyof typeof KEYS) => new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEYS[tenant], maxRetries: 0 });
const received = (sim: Simulator) => sim.pods.reduce((s, p) => s + p.received, 0);
/** A 40-character prompt: 10 tokens for the simulator and for the gateway's estimate alike. */
const PROMPT = 'abcd'.repeat(10);

/** A completion that writes exactly `tokens` (ignore_eos): it uses 10 + tokens, and reserves as much. */
function complete(c: OpenAI, tokens: number) {
  return c.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: tokens, ignore_eos: true } as OpenAI.CompletionCreateParamsNonStreaming).withResponse();
}

async function refusal(promise: Promise<unknown>): Promise<APIError> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(APIError);
  return err as APIError;
}

describe('token budgets', () => {
  it('a tenant over its tokens per minute is refused before any pod sees the request, with OpenAI\'s rate-limit headers', async () => {
    const { sim, endpoints } = await pods();
    const gateway = await gatewayFor(endpoints, [{ name: 'a', tenant: 'team-a', tokensPerMinute: 250 }]);
    const a = client(gateway, 'team-a');
    const remaining: string[] = [];
    for (let i = 0; i < 5; i++) {
      const { data, response } = await complete(a, 40);
      expect(data.usage!.total_tokens).toBe(50);
      expect(response.headers.get('x-ratelimit-limit-tokens')).toBe('250');
      remaining.push(response.headers.get('x-ratelimit-remaining-tokens')!);
      expect(response.headers.get('x-ratelimit-reset-tokens')).toMatch(/^\d+(\.\d+)?s$/);
    }
    expect(remaining).toEqual(['200', '150', '100', '50', '0']);
    const seen = received(sim);
    expect(seen).toBe(5);

    const err = await refusal(complete(a, 40));
    expect(err.status).toBe(429);
    expect(err.type).toBe('tokens');
    expect(err.code).toBe('rate_limit_exceeded');
    expect(err.message).toMatch(/tenant "team-a" on tokens per min \(TPM\): Limit 250, Remaining 0, Requested 50.*try again in/);
    expect(Number(err.headers!.get('retry-after'))).toBeGreaterThan(50);
    expect(err.headers!.get('x-ratelimit-remaining-tokens')).toBe('0');
    expect(err.headers!.get('x-infergate-error-origin')).toBe('gateway');
    expect(received(sim)).toBe(seen);

    // Another tenant (no budget of its own) is not held back.
    expect((await complete(client(gateway, 'team-b'), 40)).data.usage!.total_tokens).toBe(50);

    // A request larger than the whole budget says waiting will not help.
    const big = await refusal(complete(a, 5000));
    expect(big.status).toBe(429);
    expect(big.message).toMatch(/Request too large .* Lower max_tokens/);
    expect(big.headers!.get('retry-after')).toBeNull();

    const page = gateway.gateway.metrics.render();
    expect(page).toMatch(/infergate_token_budget_rejections_total\{tenant="team-a",limit="tokens"\} 2/);
    expect(page).toMatch(/infergate_token_budget_charged_tokens_total\{tenant="team-a"\} 250/);
  }, 20_000);

  it('what a tenant is charged reconciles exactly to the answers\' usage, streamed or not; an answer without usage keeps its reservation, a failed one costs nothing', async () => {
    const { endpoints } = await pods();
    const gateway = await gatewayFor(endpoints, [{ name: 'all', tenant: '*', tokensPerMinute: 10_000_000 }]);
    const a = client(gateway, 'team-a');
    const store = gateway.gateway.budgets.store;
    let usage = 0;
    const jobs: Promise<number>[] = [];
    for (let i = 0; i < 24; i++) {
      const max = 5 + ((i * 7) % 60);
      const content = `question ${i}: ${'word '.repeat(i * 3)}`;
      jobs.push(
        (async () => {
          switch (i % 4) {
            case 0:
              return (await a.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_tokens: max })).usage!.total_tokens;
            case 1:
              return (await a.completions.create({ model: MODEL, prompt: content, max_tokens: max })).usage!.total_tokens;
            default: {
              const stream = i % 4 === 2
                ? await a.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content }], max_completion_tokens: max, stream: true, stream_options: { include_usage: true } })
                : await a.completions.create({ model: MODEL, prompt: content, max_tokens: max, stream: true, stream_options: { include_usage: true } });
              let total = 0;
              for await (const chunk of stream) if (chunk.usage) total = chunk.usage.total_tokens;
              return total;
            }
          }
        })(),
      );
    }
    for (const n of await Promise.all(jobs)) usage += n;
    expect(usage).toBeGreaterThan(0);
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.used('team-a')).toBe(usage);

    // A stream without include_usage: what it used is unknown, its reservation (10 prompt + 30) stays charged.
    const stream = await a.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 30, stream: true });
    for await (const _ of stream);
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.used('team-a')).toBe(usage + 40);

    // The pod refuses the request (400): nothing is charged.
    const bad = await refusal(a.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 0 }));
    expect(bad.status).toBe(400);
    expect(bad.headers!.get('x-infergate-error-origin')).toBeNull();
    await new Promise((r) => setTimeout(r, 20));
    expect(await store.used('team-a')).toBe(usage + 40);
  }, 30_000);

  it('a pod that compresses when asked: the gateway asks it not to, and charges the answer\'s usage', async () => {
    // Usage 10 + 5 whatever was asked; gzipped when the request accepts it.
    const accepted: string[] = [];
    const pod = http.createServer((req, res) => {
      if (req.method === 'GET') {
        res.writeHead(200, { 'content-type': 'text/plain' });
        res.end('vllm:num_requests_waiting{model_name="m"} 0\nvllm:num_requests_running{model_name="m"} 0\nvllm:kv_cache_usage_perc{model_name="m"} 0\n');
        return;
      }
      let raw = '';
      req.on('data', (c) => (raw += c));
      req.on('end', () => {
        accepted.push(String(req.headers['accept-encoding']));
        const usage = { prompt_tokens: 10, completion_tokens: 5, total_tokens: 15 };
        const stream = (JSON.parse(raw) as { stream?: boolean }).stream === true;
        const text = stream
          ? `data: ${JSON.stringify({ id: 'c', object: 'text_completion', created: 1, model: MODEL, choices: [{ index: 0, text: 'hello', finish_reason: null }] })}\n\ndata: ${JSON.stringify({ id: 'c', object: 'text_completion', created: 1, model: MODEL, choices: [], usage })}\n\ndata: [DONE]\n\n`
          : JSON.stringify({ id: 'c', object: 'text_completion', created: 1, model: MODEL, choices: [{ index: 0, text: 'hello', finish_reason: 'length' }], usage });
        const gzip = /gzip/.test(String(req.headers['accept-encoding']));
        res.writeHead(200, { 'content-type': stream ? 'text/event-stream' : 'application/json', ...(gzip ? { 'content-encoding': 'gzip' } : {}) });
        res.end(gzip ? gzipSync(text) : text);
      });
    });
    await new Promise<void>((r) => pod.listen(0, '127.0.0.1', r));
    running.push({ close: () => new Promise<void>((r) => pod.close(() => r())) });
    const endpoints = writeEndpointsFile([{ address: '127.0.0.1', port: (pod.address() as AddressInfo).port, labels: { pool: 'p' }, engine: 'vllm' }]);
    const gateway = await gatewayFor(endpoints, [{ name: 'a', tenant: 'team-a', tokensPerMinute: 100_000 }]);
    const store = gateway.gateway.budgets.store;
    // The official client accepts gzip, as most clients do.
    const a = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: KEYS['team-a'], maxRetries: 0, defaultHeaders: { 'accept-encoding': 'gzip, deflate' } });
    const answer = await a.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 1000 });
    expect(answer.usage!.total_tokens).toBe(15);
    const stream = await a.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 1000, stream: true, stream_options: { include_usage: true } });
    let streamed = 0;
    for await (const chunk of stream) if (chunk.usage) streamed = chunk.usage.total_tokens;
    expect(streamed).toBe(15);
    await new Promise((r) => setTimeout(r, 20));
    // Charged the two answers' usage, not two reservations of 1010.
    expect(await store.used('team-a')).toBe(30);
    expect(accepted).toEqual(['identity', 'identity']);
  }, 20_000);

  it('two gateway replicas sharing Redis never let a tenant overshoot its budget by more than one reservation', async () => {
    const { sim, endpoints } = await pods();
    const budgets = [{ name: 'a', tenant: 'team-a', tokensPerMinute: 1000 }];
    const [g1, g2] = [await gatewayFor(endpoints, budgets, { budgetStore: redis.url }), await gatewayFor(endpoints, budgets, { budgetStore: redis.url })];
    // 60 requests of 50 tokens at once, half through each replica: 20 fit.
    const results = await Promise.allSettled(Array.from({ length: 60 }, (_, i) => complete(client(i % 2 ? g1 : g2, 'team-a'), 40)));
    const served = results.filter((r) => r.status === 'fulfilled') as PromiseFulfilledResult<Awaited<ReturnType<typeof complete>>>[];
    const used = served.reduce((s, r) => s + r.value.data.usage!.total_tokens, 0);
    expect(used).toBeLessThanOrEqual(1000 + 50);
    expect(served.length).toBe(20);
    expect(received(sim)).toBe(20);
    for (const r of results) if (r.status === 'rejected') expect((r.reason as APIError).status).toBe(429);
    expect(await g1.gateway.budgets.store.used('team-a')).toBe(used);
  }, 30_000);

  it('requests in flight are counted across replicas too', async () => {
    // Slow answers (timeScale 1: ~1 s for 100 tokens) keep places taken.
    const { sim, endpoints } = await pods({ timeScale: 1 });
    const budgets = [{ name: 'a', tenant: 'team-a', maxConcurrentRequests: 3 }];
    const [g1, g2] = [await gatewayFor(endpoints, budgets, { budgetStore: redis.url }), await gatewayFor(endpoints, budgets, { budgetStore: redis.url })];
    const results = await Promise.allSettled(Array.from({ length: 10 }, (_, i) => complete(client(i % 2 ? g1 : g2, 'team-a'), 60)));
    const refused = results.filter((r) => r.status === 'rejected').map((r) => (r as PromiseRejectedResult).reason as APIError);
    expect(results.length - refused.length).toBe(3);
    expect(received(sim)).toBe(3);
    for (const err of refused) {
      expect(err.status).toBe(429);
      expect(err.type).toBe('requests');
      expect(err.headers!.get('retry-after')).toBe('1');
    }
    // Freed when they end.
    expect((await complete(client(g1, 'team-a'), 5)).data.usage!.total_tokens).toBe(15);
  }, 30_000);

  it('an unreachable store: FailOpen lets requests through uncounted, FailClose answers 503', async () => {
    const { endpoints } = await pods();
    const budgets = [{ name: 'a', tenant: 'team-a', tokensPerMinute: 100 }];
    const open = await gatewayFor(endpoints, budgets, { budgetStore: 'redis://127.0.0.1:1' });
    for (let i = 0; i < 3; i++) expect((await complete(client(open, 'team-a'), 40)).data.usage!.total_tokens).toBe(50);
    const closed = await gatewayFor(endpoints, budgets, { budgetStore: 'redis://127.0.0.1:1', budgetFailureMode: 'FailClose' });
    const err = await refusal(complete(client(closed, 'team-a'), 40));
    expect(err.status).toBe(503);
    expect(err.code).toBe('budget_store_unavailable');
    expect(err.headers!.get('retry-after')).toBe('1');
  }, 20_000);

  it('a trusted tenant header names the tenant; a hostile one gets 400', async () => {
    const { endpoints } = await pods();
    const gateway = await gatewayFor(endpoints, [{ name: 'x', tenant: 'team-x', tokensPerMinute: 60 }], { apiKeys: undefined, tenantHeader: 'x-tenant' });
    const c = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    await complete(new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0, defaultHeaders: { 'x-tenant': 'team-x' } }), 40);
    const err = await refusal(c.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 40 }, { headers: { 'x-tenant': 'team-x' } }));
    expect(err.status).toBe(429);
    // No tenant: no budget.
    expect((await complete(c, 40)).data.usage!.total_tokens).toBe(50);
    const long = await refusal(c.completions.create({ model: MODEL, prompt: PROMPT, max_tokens: 4 }, { headers: { 'x-tenant': 't'.repeat(300) } }));
    expect(long.status).toBe(400);
    expect(long.code).toBe('invalid_header');
  }, 20_000);
});
