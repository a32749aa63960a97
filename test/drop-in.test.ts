/**
 * Today's Inference Extension and llm-d manifests on a running gateway, over
 * real sockets with simulated vLLM pods: a pool with an HTTPRoute and no
 * objective serves (the model passes through), GET /v1/models lists what the
 * pods serve, InferenceObjectives (both groups) set the priority through
 * llm-d's header and GIE's, an InferenceModelRewrite splits and restores the
 * model name (JSON and every SSE chunk), the model-name-rewrite header, and
 * x-gateway-destination-endpoint-subset.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startGateway, startSimulator, type RunningGateway } from '../src/runtime/node/index.ts';
import type { Simulator } from '../src/sim/index.ts';
import { chat, postJson, waitForMetrics } from './harness.ts';

const MODEL = 'Qwen/Qwen3-32B';
const ADAPTERS = ['sql-lora-v1', 'sql-lora-v2'];

/** What a user of llm-d has: a pool, a route, objectives and a rewrite — no InferenceModel. */
const MANIFESTS = `
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: qwen, namespace: llm }
spec:
  selector: { matchLabels: { app: qwen } }
  targetPorts: [{ number: 8000 }]
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: qwen, namespace: llm }
spec:
  rules:
  - backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: qwen }]
---
apiVersion: llm-d.ai/v1alpha2
kind: InferenceObjective
metadata: { name: batch, namespace: llm }
spec: { priority: -1, poolRef: { group: inference.networking.k8s.io, name: qwen } }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceObjective
metadata: { name: interactive, namespace: llm }
spec: { priority: 10, poolRef: { name: qwen } }
---
apiVersion: llm-d.ai/v1alpha2
kind: InferenceModelRewrite
metadata: { name: sql, namespace: llm }
spec:
  poolRef: { name: qwen }
  rules:
  - matches: [{ model: { value: sql } }]
    targets: [{ modelRewrite: sql-lora-v1, weight: 50 }, { modelRewrite: sql-lora-v2, weight: 50 }]
`;

// Every pool is saturated for sheddable work (threshold 0): a negative priority is refused at once, the rest served.
const SHED_ALL_SHEDDABLE = 'saturationDetector: { threshold: 0 }\n';

let sim: Simulator;
let gw: RunningGateway;
let dir: string;
const logs: Record<string, unknown>[] = [];
beforeAll(async () => {
  sim = await startSimulator({ pods: 3, port: 0, model: MODEL, loras: ADAPTERS, timeScale: 0.02, name: 'qwen' });
  dir = mkdtempSync(join(tmpdir(), 'infergate-dropin-'));
  writeFileSync(join(dir, 'endpoints.json'), JSON.stringify({ endpoints: sim.pods.map((p) => ({ address: '127.0.0.1', port: p.port, labels: { app: 'qwen' } })) }));
  writeFileSync(join(dir, 'manifests.yaml'), MANIFESTS);
  writeFileSync(join(dir, 'scheduling.yaml'), SHED_ALL_SHEDDABLE);
  gw = await startGateway({ port: 0, manifests: join(dir, 'manifests.yaml'), endpoints: join(dir, 'endpoints.json'), schedulingConfig: join(dir, 'scheduling.yaml'), log: (l) => logs.push(l) });
  await waitForMetrics(gw, ['llm/qwen']);
});
afterAll(async () => {
  await gw?.close();
  await sim?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const ask = async (body: unknown, headers: Record<string, string> = {}) => {
  const res = await postJson(`${gw.url}/v1/chat/completions`, body, headers);
  return { status: res.status, headers: res.headers, json: (await res.json()) as { model?: string; error?: { code: string; message: string } } };
};

describe('gateway --manifests', () => {
  it('logs every object with every condition, not only the errors', () => {
    const lines = logs.filter((l) => l.source?.toString().endsWith('manifests.yaml')).map((l) => String(l.msg));
    expect(lines).toEqual([
      'inferencepool.inference.networking.k8s.io/qwen -n llm Accepted=True (Accepted)',
      'httproute.gateway.networking.k8s.io/qwen -n llm Accepted=True (Accepted), ResolvedRefs=True (ResolvedRefs)',
      'inferenceobjective.llm-d.ai/batch -n llm Accepted=True (Accepted), ResolvedRefs=True (ResolvedRefs)',
      'inferenceobjective.inference.networking.x-k8s.io/interactive -n llm Accepted=True (Accepted), ResolvedRefs=True (ResolvedRefs)',
      'inferencemodelrewrite.llm-d.ai/sql -n llm Accepted=True (Accepted), ResolvedRefs=True (ResolvedRefs)',
    ]);
  });
});

describe('a pool with a route and no InferenceModel', () => {
  it('serves any model its servers serve: the model passes through unchanged', async () => {
    const a = await ask(chat(MODEL));
    expect(a.status, JSON.stringify(a.json)).toBe(200);
    expect(a.json.model).toBe(MODEL);
    // An adapter the pods have, asked by name.
    expect((await ask(chat('sql-lora-v2'))).json.model).toBe('sql-lora-v2');
    // A model the pods do not serve: their own 404, passed on.
    expect((await ask(chat('gpt-17'))).status).toBe(404);
  });

  it('GET /v1/models lists the base model and the adapters the pods list, and the rewrite names', async () => {
    const res = await fetch(`${gw.url}/v1/models`);
    const list = (await res.json()) as { object: string; data: { id: string; parent?: string; object: string }[] };
    expect(list.object).toBe('list');
    const ids = list.data.map((m) => m.id);
    expect(ids).toEqual(expect.arrayContaining([MODEL, ...ADAPTERS, 'sql']));
    expect(list.data.find((m) => m.id === 'sql-lora-v1')?.parent).toBe(MODEL);
    expect(new Set(ids).size).toBe(ids.length);
  });
});

describe('InferenceObjective', () => {
  it("llm-d's header and GIE's older one choose the objective; a negative priority is sheddable", async () => {
    for (const header of ['x-llm-d-inference-objective', 'x-gateway-inference-objective']) {
      const shed = await ask(chat(MODEL), { [header]: 'batch' });
      expect(shed.status, header).toBe(429);
      expect(shed.json.error?.code).toBe('pool_saturated');
      expect((await ask(chat(MODEL), { [header]: 'interactive' })).status, header).toBe(200);
    }
  });

  it('reads the llm-d header first when both are sent', async () => {
    expect((await ask(chat(MODEL), { 'x-llm-d-inference-objective': 'interactive', 'x-gateway-inference-objective': 'batch' })).status).toBe(200);
    expect((await ask(chat(MODEL), { 'x-llm-d-inference-objective': 'batch', 'x-gateway-inference-objective': 'interactive' })).status).toBe(429);
  });

  // Before issue 13 an unknown objective was a 400; llm-d's director gives it the default priority 0 instead.
  it('an unknown objective name is priority 0, as in llm-d, not an error', async () => {
    expect((await ask(chat(MODEL), { 'x-llm-d-inference-objective': 'no-such-objective' })).status).toBe(200);
  });
});

describe('InferenceModelRewrite and the model-name-rewrite header', () => {
  it('sends a target the pods serve and restores the asked-for name in the JSON answer', async () => {
    // "sql" is no model of the pods: a 200 means a target (sql-lora-v1 or -v2) was sent; the split itself: src/routing/resolve.test.ts.
    for (let i = 0; i < 4; i++) {
      const a = await ask(chat('sql', `question ${i}`));
      expect(a.status, JSON.stringify(a.json)).toBe(200);
      expect(a.json.model).toBe('sql');
    }
  });

  it('restores the name in every SSE chunk of a stream', async () => {
    const res = await postJson(`${gw.url}/v1/chat/completions`, chat('sql', 'stream please', { stream: true, max_tokens: 6 }));
    expect(res.status).toBe(200);
    const chunks = (await res.text()).split('\n').filter((l) => l.startsWith('data: {'));
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) expect(JSON.parse(c.slice(6)).model).toBe('sql');
  });

  it('x-llm-d-model-name-rewrite (and GIE\'s x-gateway-model-name-rewrite) names the model sent to the server', async () => {
    for (const header of ['x-llm-d-model-name-rewrite', 'x-gateway-model-name-rewrite']) {
      const a = await ask(chat('anything'), { [header]: 'sql-lora-v1' });
      expect(a.status, header).toBe(200);
      expect(a.json.model, header).toBe('anything');
    }
  });
});

describe('x-gateway-destination-endpoint-subset', () => {
  it('restricts the candidates to the endpoints it names', async () => {
    const only = `127.0.0.1:${sim.pods[2]!.port}`;
    for (let i = 0; i < 6; i++) {
      const res = await postJson(`${gw.url}/v1/chat/completions`, chat(MODEL, `subset ${i}`), { 'x-gateway-destination-endpoint-subset': `10.9.9.9:8000,${only}` });
      await res.arrayBuffer();
      expect(res.status).toBe(200);
      expect(res.headers.get('x-gateway-destination-endpoint')).toBe(only);
    }
  });

  it('answers 503 when none of them is an endpoint of the pool', async () => {
    const a = await ask(chat(MODEL), { 'x-gateway-destination-endpoint-subset': '10.9.9.9:8000' });
    expect(a.status).toBe(503);
    expect(a.json.error?.message).toContain('x-gateway-destination-endpoint-subset');
  });
});
