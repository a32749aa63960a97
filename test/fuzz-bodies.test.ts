/**
 * Malformed and hostile bodies through the real gateway (issue 16): generated
 * JSON of every shape and bytes that are not JSON, to the proxied routes,
 * with a rewritten model and without. Every answer is a 2xx from the pod or
 * a 4xx in OpenAI's shape; never a 5xx, a hang or a crash.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.ts';
import { startGateway, startSimulator, type RunningGateway } from '../src/runtime/node/index.ts';
import { staticEndpoints } from './static-endpoints.ts';

let sim: Simulator;
let gateway: RunningGateway;
const RUNS = Number(process.env.INFERGATE_FUZZ_RUNS ?? 6000);

beforeAll(async () => {
  sim = await startSimulator({ pods: 1, port: 0, model: 'base', loras: ['bot-lora'], timeScale: 0.001, engineConfig: { defaultOutputTokens: 4 } });
  gateway = await startGateway({ port: 0, bodyLimit: 64 * 1024, endpointSource: staticEndpoints([{ address: '127.0.0.1', port: sim.pods[0]!.port, labels: { pool: 'p' }, engine: 'vllm' }]), log: () => {} });
  expect(
    gateway.store.apply({
      routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
      pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' }],
      models: [
        { name: 'bot', pool: 'p', targetModels: [{ name: 'bot-lora' }] },
        { name: 'plain', pool: 'p', targetModels: [{ name: 'base' }] },
      ],
    }).ok,
  ).toBe(true);
});
afterAll(async () => {
  await gateway?.close();
  await sim?.close();
});

const json = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.string(),
    fc.double(),
    fc.integer(),
    fc.boolean(),
    fc.constant(null),
    fc.array(tie('value'), { maxLength: 4 }),
    fc.dictionary(fc.oneof(fc.constantFrom('model', 'messages', 'prompt', 'input', 'stream', 'max_tokens', 'role', 'content', 'n'), fc.string({ maxLength: 5 })), tie('value'), { maxKeys: 5 }),
  ),
}));

/** Bodies: generated objects around the fields the gateway reads, odd JSON text, and raw bytes. */
const body = fc.oneof(
  fc.record({ model: fc.constantFrom('bot', 'plain', 'nobody'), messages: json.value, stream: json.value, max_tokens: json.value }, { requiredKeys: ['model'] }).map((o) => JSON.stringify(o)),
  json.value.map((v) => JSON.stringify(v) ?? 'undefined'),
  fc.constantFrom(
    '{"model":"bot","messages":[{"role":"user","content":"x"}],"max_tokens":1e400}',
    '{"model":"bot","model":"plain","messages":[{"role":"user","content":"x"}]}',
    `{"model":"bot","messages":[{"role":"user","content":"x"}],"x":${'['.repeat(5000)}${']'.repeat(5000)}}`,
    '{"model":"bot","messages":[{"role":"user","content":"\\ud800"}]}',
    '{"model":"bot","messages":[]}',
    '{"model":"bot","messages":[{"role":"user","content":"x"}]',
  ),
  fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b)),
  fc.string().map((s) => `{"model":"bot","messages":[{"role":"user","content":${JSON.stringify(s)}}],"stream":${s.length % 2 === 0}}`),
);

describe('fuzzed bodies through the gateway', () => {
  it(`${RUNS} bodies: each answered 2xx or an OpenAI-shaped 4xx, none 5xx, none hangs`, async () => {
    const path = fc.constantFrom('/v1/chat/completions', '/v1/completions', '/v1/embeddings');
    const seen = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(path, body, async (p, b) => {
        const res = await fetch(`${gateway.url}${p}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: b, signal: AbortSignal.timeout(5000) });
        const text = await res.text();
        seen.set(res.status, (seen.get(res.status) ?? 0) + 1);
        expect(res.status < 500).toBe(true);
        if (res.status >= 400) {
          const error = (JSON.parse(text) as { error: { message: string; type: string; code: string } }).error;
          expect(typeof error.message).toBe('string');
          expect(typeof error.type).toBe('string');
          expect(typeof error.code).toBe('string');
        }
      }),
      { numRuns: RUNS, seed: 16 },
    );
    expect(seen.get(400)).toBeGreaterThan(0);
  }, 120_000);
});
