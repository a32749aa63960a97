/**
 * Flow isolation end to end (src/flowcontrol/isolation.ts), real gateway and
 * simulated pods: while one flow floods the pool, flow control keeps it off a
 * reserve of pods, and the quiet flow's requests go there — each decision's
 * explanation (x-infergate-explain) says so, the picker obeyed it, and the
 * metrics page shows the reserve. The
 * same burst with isolation off spreads both flows over every pod.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, startSimulator, type RunningGateway } from '../src/runtime/node/index.ts';
import { entriesFor, writeEndpointsFile } from './harness.ts';

const MODEL = 'base';
const running: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  for (const r of running.splice(0).reverse()) await r.close();
});

/** The scheduling config a user writes: flow control, round robin between flows, 2 requests in flight per pod, isolation or not. */
function schedulingConfig(isolation: boolean): string {
  const dir = mkdtempSync(join(tmpdir(), 'infergate-isolation-'));
  running.push({ close: async () => rmSync(dir, { recursive: true, force: true }) });
  const file = join(dir, 'epp.yaml');
  writeFileSync(
    file,
    `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
featureGates: [flowControl]
plugins:
  - { type: round-robin-fairness-policy, name: rr }
  - { type: concurrency-detector, parameters: { maxConcurrency: 2 } }
flowControl:
  defaultPriorityBand: { fairnessPolicyRef: rr }
  saturationDetector: { pluginRef: concurrency-detector }
${isolation ? '  isolation: { headroom: 1, window: 2s }\n' : ''}`,
  );
  return file;
}

async function cluster(isolation: boolean) {
  // Four pods that run 2 requests at a time each; flow control holds the rest.
  const sim = await startSimulator({ pods: 4, port: 0, model: MODEL, timeScale: 1, engineConfig: { maxNumSeqs: 2 } });
  running.push(sim);
  const gateway: RunningGateway = await startGateway({
    port: 0,
    adminPort: 0,
    endpoints: writeEndpointsFile(entriesFor(sim, { pool: 'p' })),
    schedulingConfig: schedulingConfig(isolation),
    scrapeIntervalMs: 10,
    log: () => {},
  });
  running.push(gateway);
  expect(
    gateway.store.apply({
      routes: [{ name: 'all', rules: [{ backendRefs: [{ pool: 'p' }] }] }],
      pools: [{ name: 'p', selector: { pool: 'p' }, targetPorts: [8000], failureMode: 'FailOpen' }],
      models: [{ name: MODEL, pool: 'p', criticality: 'Standard', targetModels: [{ name: MODEL }] }],
    }).ok,
  ).toBe(true);
  return gateway;
}

interface Decision {
  picked?: string;
  isolation?: { flow: string; overShare: boolean; reserve: string[]; allowed: string[] };
}

/** A streamed request of `flow`, explained; resolves with its status and the gateway's decision. */
async function ask(url: string, flow: string, prompt: string, tokens: number): Promise<{ status: number; decision: Decision }> {
  const res = await fetch(`${url}/v1/chat/completions`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-llm-d-inference-fairness-id': flow, 'x-infergate-explain': '1' },
    body: JSON.stringify({ model: MODEL, messages: [{ role: 'user', content: `${prompt} ${Math.random()}` }], max_tokens: tokens, stream: true, ignore_eos: true }),
  });
  const decision = JSON.parse(res.headers.get('x-infergate-decision') ?? '{}') as Decision;
  await res.arrayBuffer();
  return { status: res.status, decision };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('flow isolation', () => {
  it('keeps a flooding flow off the pods it reserves for a quiet one, and the picker obeys', async () => {
    const gateway = await cluster(true);
    const document = 'lorem ipsum dolor sit amet '.repeat(200);
    const flood = Array.from({ length: 48 }, () => ask(gateway.url, 'batch', document, 30));
    await sleep(300); // the pods are full, the batch flow waits in the gateway
    const quiet = [];
    for (let i = 0; i < 6; i++) quiet.push(await ask(gateway.url, 'chat', 'hello', 3));
    // The reserve shows on the metrics page while it holds.
    const page = await (await fetch(`${gateway.adminUrl}/metrics`)).text();
    const reserved = /^infergate_flow_isolation_reserved_endpoints\{inference_pool="p"\} (\d+)$/m.exec(page);
    expect(Number(reserved?.[1])).toBeGreaterThan(0);
    const batch = await Promise.all(flood);
    expect([...quiet, ...batch].every((r) => r.status === 200)).toBe(true);

    const isolatedQuiet = quiet.filter((r) => r.decision.isolation);
    expect(isolatedQuiet.length).toBeGreaterThan(0);
    for (const { decision } of isolatedQuiet) {
      // The quiet flow may use the reserve, and pods the flood has nothing on.
      expect(decision.isolation!.overShare).toBe(false);
      expect(decision.isolation!.allowed).toContain(decision.picked);
      for (const id of decision.isolation!.reserve) expect(decision.isolation!.allowed).toContain(id);
    }
    const isolatedBatch = batch.filter((r) => r.decision.isolation);
    expect(isolatedBatch.length).toBeGreaterThan(0);
    for (const { decision } of isolatedBatch) {
      expect(decision.isolation!.overShare).toBe(true);
      expect(decision.isolation!.reserve).not.toContain(decision.picked);
      expect(decision.isolation!.allowed).toContain(decision.picked);
      for (const id of decision.isolation!.reserve) expect(decision.isolation!.allowed).not.toContain(id);
      // The flooding flow keeps at least its fair share of the pods (1 of 2 flows: 2 of 4).
      expect(decision.isolation!.reserve.length).toBeLessThanOrEqual(2);
    }
  }, 30_000);

  it('without isolation, the same burst says nothing of it and both flows share the pods', async () => {
    const gateway = await cluster(false);
    const document = 'lorem ipsum dolor sit amet '.repeat(200);
    const flood = Array.from({ length: 24 }, () => ask(gateway.url, 'batch', document, 20));
    await sleep(200);
    const quiet = await ask(gateway.url, 'chat', 'hello', 3);
    const batch = await Promise.all(flood);
    expect([quiet, ...batch].every((r) => r.status === 200 && r.decision.isolation === undefined)).toBe(true);
    // Spread over the pool (the prefix scorer's pull to the pods that already hold the document can leave one out).
    expect(new Set(batch.map((r) => r.decision.picked)).size).toBeGreaterThanOrEqual(3);
  }, 30_000);
});
