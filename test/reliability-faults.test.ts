/**
 * Pod faults absorbed (issue 16): one pod of four answers 500, 429 or 503 to
 * 30 % of the requests it gets. With retries on another pod before the first
 * byte, fewer than 1 % of client requests fail; with outlier detection, the
 * faulty pod draws less than its fair share of the traffic. Real simulated
 * pods, the real gateway, the official openai client.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.ts';
import { startGateway, startSimulator, type RunningGateway } from '../src/runtime/node/index.ts';
import { entriesFor, writeEndpointsFile } from './harness.ts';

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
let sim: Simulator;
let gateway: RunningGateway;

beforeAll(async () => {
  sim = await startSimulator({ pods: 4, port: 0, model: MODEL, timeScale: 0.01, seed: 3 });
  gateway = await startGateway({ port: 0, endpoints: writeEndpointsFile(entriesFor(sim, { pool: 'p' })), scrapeIntervalMs: 20, log: () => {} });
  const applied = gateway.store.apply({
    routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
    pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' }],
    models: [{ name: MODEL, pool: 'p' }],
  });
  expect(applied.ok).toBe(true);
});
afterAll(async () => {
  await gateway?.close();
  await sim?.close();
});

describe('one pod failing 30 % of its requests', () => {
  it.each([500, 429, 503])('answering $0: fewer than 1 in 100 client requests fail, and it gets less than its fair share', async (status) => {
    const faulty = sim.pods[0]!;
    await faulty.setFaults({ error_rate: 0.3, error_status: status as 500 | 429 | 503 });
    const before = sim.pods.map((p) => p.received);
    const client = new OpenAI({ baseURL: `${gateway.url}/v1`, apiKey: 'unused', maxRetries: 0 });
    const total = 300;
    let failed = 0;
    let next = 0;
    const worker = async () => {
      while (next < total) {
        next++;
        try {
          await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: `hello ${next}` }], max_tokens: 2 });
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    await faulty.setFaults({});
    const received = sim.pods.map((p, i) => p.received - before[i]!);
    const share = received[0]! / received.reduce((a, b) => a + b, 0);
    console.log(JSON.stringify({ status, failed, total, faultyShare: Number(share.toFixed(3)), received }));
    expect(failed / total).toBeLessThan(0.01);
    expect(share).toBeLessThan(0.25);
  });
});
