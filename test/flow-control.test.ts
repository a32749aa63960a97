/**
 * Flow control end to end (issue 17), real gateway and simulated pods: under
 * a burst that saturates the pool, Critical requests are dispatched before
 * the Standard ones already waiting, none is lost; a request past its TTL
 * and a request beyond a queue limit get 429 with Retry-After, OpenAI-shaped;
 * a client that leaves while queued never reaches a pod.
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.ts';
import { startGateway, startSimulator, type RunningGateway } from '../src/runtime/node/index.ts';
import { entriesFor, writeEndpointsFile } from './harness.ts';

const MODEL = 'base';
const running: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close();
});

async function cluster(flowControl: boolean, config: Record<string, unknown> = {}) {
  // Two pods that run 2 requests at a time each: a burst of tens saturates them.
  const sim: Simulator = await startSimulator({ pods: 2, port: 0, model: MODEL, timeScale: 1, engineConfig: { maxNumSeqs: 2 } });
  running.push(sim);
  const gateway: RunningGateway = await startGateway({
    port: 0,
    endpoints: writeEndpointsFile(entriesFor(sim, { pool: 'p' })),
    scrapeIntervalMs: 10,
    log: () => {},
    ...(flowControl ? { flowControl: { maxConcurrency: 2, config } } : {}),
  });
  running.push(gateway);
  expect(
    gateway.store.apply({
      routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
      pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' }],
      models: [
        { name: 'critical', pool: 'p', criticality: 'Critical', targetModels: [{ name: MODEL }] },
        { name: 'standard', pool: 'p', criticality: 'Standard', targetModels: [{ name: MODEL }] },
      ],
    }).ok,
  ).toBe(true);
  return { sim, gateway };
}

/** A streamed request; resolves with its status and time to the first token (ms from when it was sent). */
async function ask(url: string, model: string, tokens = 8, headers: Record<string, string> = {}, signal?: AbortSignal) {
  const start = performance.now();
  const res = await fetch(`${url}/v1/chat/completions`, { method: 'POST', signal, headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify({ model, messages: [{ role: 'user', content: `hi ${Math.random()}` }], max_tokens: tokens, stream: true, ignore_eos: true }) });
  if (res.status !== 200) return { status: res.status, ttft: NaN, headers: res.headers, body: await res.json() };
  const reader = res.body!.getReader();
  await reader.read();
  const ttft = performance.now() - start;
  while (!(await reader.read()).done);
  return { status: 200, ttft, headers: res.headers, body: undefined };
}

const p99 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.ceil(xs.length * 0.99) - 1]!;

describe('flow control', () => {
  it('dispatches Critical requests before the Standard ones already waiting, and loses none', async () => {
    const results: Record<string, { critical: number; standard: number }> = {};
    for (const fc of [false, true]) {
      const { gateway } = await cluster(fc);
      const standard = Array.from({ length: 24 }, () => ask(gateway.url, 'standard', 20));
      await new Promise((r) => setTimeout(r, 50)); // the pods are full, Standard requests wait
      const critical = await Promise.all(Array.from({ length: 6 }, () => ask(gateway.url, 'critical', 20)));
      const std = await Promise.all(standard);
      expect([...critical, ...std].every((r) => r.status === 200)).toBe(true);
      results[fc ? 'on' : 'off'] = { critical: p99(critical.map((r) => r.ttft)), standard: p99(std.map((r) => r.ttft)) };
      await running.splice(0).reverse().reduce((p, r) => p.then(() => r.close()), Promise.resolve());
    }
    // With flow control the late Critical requests overtake the waiting Standard ones; without it they queue at the pods behind them.
    expect(results.on!.critical).toBeLessThan(results.off!.critical / 2);
    expect(results.on!.critical).toBeLessThan(results.on!.standard);
  }, 30_000);

  it('a request past its TTL gets 429 with Retry-After, saying so', async () => {
    const { gateway } = await cluster(true);
    const busy = Array.from({ length: 4 }, () => ask(gateway.url, 'standard', 100));
    await new Promise((r) => setTimeout(r, 30));
    const late = await ask(gateway.url, 'standard', 5, { 'x-llm-d-inference-ttl': '100ms' });
    expect(late.status).toBe(429);
    expect(late.headers.get('retry-after')).toBe('1');
    expect((late.body as { error: { code: string; message: string } }).error.code).toBe('flow_control_ttl_expired');
    await Promise.all(busy);
  }, 20_000);

  it('a request beyond the queue limit gets 429 at once, naming the limit', async () => {
    const { gateway } = await cluster(true, { defaultBand: { maxRequests: 1, maxBytes: 1e9, fairness: 'global-strict-fairness-policy', ordering: 'fcfs-ordering-policy' } });
    const busy = Array.from({ length: 5 }, () => ask(gateway.url, 'standard', 60));
    await new Promise((r) => setTimeout(r, 50));
    const refused = await ask(gateway.url, 'standard', 5);
    expect(refused.status).toBe(429);
    expect((refused.body as { error: { code: string; message: string } }).error).toMatchObject({ code: 'flow_control_queue_full', type: 'rate_limit_error' });
    expect(await Promise.all(busy)).toSatisfy((rs: Array<{ status: number }>) => rs.filter((r) => r.status === 200).length === 5);
  }, 20_000);

  it('a client that leaves while queued is taken out at once and never reaches a pod', async () => {
    const { sim, gateway } = await cluster(true);
    const busy = Array.from({ length: 4 }, () => ask(gateway.url, 'standard', 60));
    await new Promise((r) => setTimeout(r, 50));
    const received = () => sim.pods.reduce((n, p) => n + p.received, 0);
    const before = received();
    const abort = new AbortController();
    const gone = ask(gateway.url, 'standard', 5, {}, abort.signal).catch((e: unknown) => e);
    await new Promise((r) => setTimeout(r, 50));
    expect(gateway.scheduling.flow!.controller.waiting('p')).toBe(1);
    abort.abort();
    await gone;
    await new Promise((r) => setTimeout(r, 20));
    expect(gateway.scheduling.flow!.controller.waiting('p')).toBe(0);
    await Promise.all(busy);
    expect(received()).toBe(before);
  }, 20_000);

  it('a request let out of the queue that then reaches no pod frees its place for the next one at once', async () => {
    // One pod, saturated by one request; no fresh metrics while the test runs, so only the gateway's own events wake the queue.
    const sim: Simulator = await startSimulator({ pods: 1, port: 0, model: MODEL, timeScale: 1, engineConfig: { maxNumSeqs: 4 } });
    running.push(sim);
    const gateway: RunningGateway = await startGateway({ port: 0, endpoints: writeEndpointsFile(entriesFor(sim, { pool: 'p' })), scrapeIntervalMs: 60_000, log: () => {}, flowControl: { maxConcurrency: 1 } });
    running.push(gateway);
    expect(
      gateway.store.apply({
        routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
        pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' }],
        models: [{ name: 'standard', pool: 'p', criticality: 'Standard', targetModels: [{ name: MODEL }] }],
      }).ok,
    ).toBe(true);
    const waiting = async (n: number) => {
      while (gateway.scheduling.flow!.controller.waiting('p') < n) await new Promise((r) => setTimeout(r, 5));
    };
    const busy = ask(gateway.url, 'standard', 60);
    await new Promise((r) => setTimeout(r, 50));
    // Let out of the queue when `busy` ends, it finds no ready endpoint in the subset it names: 503.
    const nowhere = ask(gateway.url, 'standard', 5, { 'x-gateway-destination-endpoint-subset': '10.9.9.9:8000' });
    await waiting(1);
    // Behind it, one whose TTL would end its wait (429) if nothing woke the queue after that 503.
    const next = ask(gateway.url, 'standard', 5, { 'x-llm-d-inference-ttl': '5000ms' });
    await waiting(2);
    expect((await busy).status).toBe(200);
    expect((await nowhere).status).toBe(503);
    const served = await next;
    expect(served.body).toBeUndefined();
    expect(served.status).toBe(200);
  }, 20_000);

  it('a request that waits through a new routing table is judged and scheduled by the pool as the new table has it', async () => {
    // Three pods: two in pool p, one spare. One request in flight per endpoint saturates p.
    const sim: Simulator = await startSimulator({ pods: 3, port: 0, model: MODEL, timeScale: 1, engineConfig: { maxNumSeqs: 2 } });
    running.push(sim);
    const entries = entriesFor(sim, { pool: 'p' }).map((e, i) => (i === 2 ? { ...e, labels: { pool: 'spare' } } : e));
    const gateway: RunningGateway = await startGateway({ port: 0, endpoints: writeEndpointsFile(entries), scrapeIntervalMs: 10, log: () => {}, flowControl: { maxConcurrency: 1 } });
    running.push(gateway);
    const table = (selector: Record<string, string>) => ({
      routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
      pools: [{ name: 'p', selector, targetPorts: [8000], failureMode: 'FailOpen' as const }],
      models: [{ name: 'standard', pool: 'p', criticality: 'Standard' as const, targetModels: [{ name: MODEL }] }],
    });
    expect(gateway.store.apply(table({ pool: 'p' })).ok).toBe(true);
    const busy = Array.from({ length: 2 }, () => ask(gateway.url, 'standard', 100).then((r) => ({ ...r, at: performance.now() })));
    await new Promise((r) => setTimeout(r, 50));
    const waiting = ask(gateway.url, 'standard', 5).then((r) => ({ ...r, at: performance.now() }));
    await new Promise((r) => setTimeout(r, 50));
    expect(gateway.scheduling.flow!.controller.waiting('p')).toBe(1);
    // The new table points p at the spare pod: what waits goes there now, not when a busy request of the old pods ends.
    expect(gateway.store.apply(table({ pool: 'spare' })).ok).toBe(true);
    const answered = await waiting;
    expect(answered.status).toBe(200);
    expect(answered.headers.get('x-gateway-destination-endpoint')).toBe(`127.0.0.1:${sim.pods[2]!.port}`);
    const slow = await Promise.all(busy);
    expect(slow.every((r) => r.status === 200)).toBe(true);
    expect(answered.at).toBeLessThan(Math.min(...slow.map((r) => r.at)));
  }, 20_000);
});
