/**
 * Every file llm-d publishes in `../shared/ecosystem/llm-d/` (EndpointPickerConfigs
 * from deploy/config, its InferenceObjectives, the hermetic test's pool and
 * objectives) loads into infergate as it is — as `--scheduling-config` or as
 * manifests (`infergate apply -f`) — and serves over real sockets, or is
 * refused with each llm-d plugin infergate does not have named. The table
 * below says which; a new file there fails the test until it is listed.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parseSchedulerConfig } from '../src/scheduling/config.ts';
import { startGateway, startSimulator, type RunningGateway } from '../src/runtime/node/index.ts';
import type { Simulator } from '../src/sim/index.ts';
import { run as apply } from '../src/cli/commands/apply.ts';
import { run as get } from '../src/cli/commands/get.ts';
import { run as describeCmd } from '../src/cli/commands/describe.ts';
import { ecosystemDir, ecosystemFile } from './conformance-pods.ts';
import { chat, postJson, waitForMetrics } from './harness.ts';

const LLMD = ecosystemDir('llm-d');

/** What each file does in infergate: serves, or is refused naming these llm-d plugin types. */
const EXPECTED: Record<string, { config: 'serves' } | { config: 'refused'; naming: string[] } | { manifests: 'serves' }> = {
  'epp-config.yaml': { config: 'serves' },
  'sim-epp-config.yaml': { config: 'serves' },
  'dp-epp-config.yaml': { config: 'refused', naming: ['data-parallel-profile-handler'] },
  'epp-estimate-prefix-cache-config.yaml': { config: 'refused', naming: ['load-aware-scorer'] },
  'epp-precise-prefix-cache-config.yaml': { config: 'serves' },
  'pd-epp-config.yaml': { config: 'refused', naming: ['disagg-profile-handler', 'prefix-based-pd-decider'] },
  'probabilistic-admitter-epp-config.yaml': { config: 'refused', naming: ['probabilistic-admitter'] },
  'sim-program-aware-config.yaml': { config: 'refused', naming: ['program-aware-fairness'] },
  'soft-reflective-ceiling-epp-config.yaml': { config: 'refused', naming: ['soft-reflective-ceiling-policy'] },
  'inferenceobjective.yaml': { manifests: 'serves' },
  'inferencepool-with-model-hermetic.yaml': { manifests: 'serves' },
};

/** A pool and route of the name a file's objects refer to: the rest of a user's manifests, which these files leave out. */
const poolAndRoute = (pool: string, app: string) => `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: ${pool} }
spec: { selector: { matchLabels: { app: ${app} } }, targetPorts: [{ number: 8000 }] }
---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${pool} }
spec:
  rules: [{ backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: ${pool} }] }]
`;

async function cli(fn: (args: string[]) => Promise<number>, args: string[]) {
  const out: string[] = [];
  const log = vi.spyOn(console, 'log').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  const err = vi.spyOn(console, 'error').mockImplementation((...a: unknown[]) => void out.push(a.join(' ')));
  try {
    return { code: await fn(args), out: out.join('\n') };
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

describe.skipIf(!LLMD)(`llm-d's published files${LLMD ? '' : ' (skipped: ../shared/ecosystem/llm-d not found beside the checkout)'}`, () => {
  let sim: Simulator;
  let hermetic: Simulator;
  let dir: string;
  const gateways: RunningGateway[] = [];
  beforeAll(async () => {
    sim = await startSimulator({ pods: 3, port: 0, model: 'rewritten-model', loras: ['sql-lora-1fdg2', 'sql-lora-1fdg3'], timeScale: 0.02, name: 'qwen' });
    dir = mkdtempSync(join(tmpdir(), 'infergate-llmd-'));
    // Pod 2 is a prefill pod: llm-d's decode-filter must never pick it.
    const role = (i: number) => (i === 2 ? { 'llm-d.ai/role': 'prefill' } : i === 1 ? { 'llm-d.ai/role': 'decode' } : {});
    // The hermetic pool selects app=vllm-qwen3-32b-pool: pods of its own.
    hermetic = await startSimulator({ pods: 2, port: 0, model: 'rewritten-model', loras: ['sql-lora-1fdg2', 'sql-lora-1fdg3'], timeScale: 0.02, name: 'hermetic' });
    const entries = [
      ...sim.pods.map((p, i) => ({ address: '127.0.0.1', port: p.port, labels: { app: 'qwen', ...role(i) } })),
      ...hermetic.pods.map((p) => ({ address: '127.0.0.1', port: p.port, labels: { app: 'vllm-qwen3-32b-pool' } })),
    ];
    writeFileSync(join(dir, 'endpoints.json'), JSON.stringify({ endpoints: entries }));
  });
  afterAll(async () => {
    for (const g of gateways) await g.close();
    await sim?.close();
    await hermetic?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('lists every file of the folder', () => {
    expect(readdirSync(LLMD!).sort()).toEqual(Object.keys(EXPECTED).sort());
  });

  for (const [file, expected] of Object.entries(EXPECTED)) {
    if (!('config' in expected) || expected.config !== 'refused') continue;
    it(`${file} is refused, naming ${expected.naming.join(', ')}`, () => {
      const r = parseSchedulerConfig(ecosystemFile(LLMD!, file));
      expect(r.ok).toBe(false);
      if (r.ok) return;
      const refused = r.problems.filter((p) => p.message.includes('is an llm-d'));
      expect(refused.map((p) => /^"([^"]+)"/.exec(p.message)?.[1]).sort()).toEqual([...expected.naming].sort());
      for (const p of refused) expect(p.message).toMatch(/infergate does not have: .+\./);
      // Only the unsupported plugins, no knock-on "no plugin named" noise.
      expect(r.problems.filter((p) => p.message.startsWith('no plugin named'))).toEqual([]);
    });
  }

  for (const file of ['epp-config.yaml', 'sim-epp-config.yaml']) {
    it(`${file} serves as --scheduling-config: decode-filter keeps the prefill pod out, prefix affinity holds`, async () => {
      mkdirSync(join(dir, file), { recursive: true });
      writeFileSync(join(dir, file, 'manifests.yaml'), poolAndRoute('qwen', 'qwen'));
      const gw = await startGateway({ port: 0, manifests: join(dir, file, 'manifests.yaml'), endpoints: join(dir, 'endpoints.json'), schedulingConfig: join(LLMD!, file), log: () => {} });
      gateways.push(gw);
      await waitForMetrics(gw, ['qwen']);
      const prefill = `127.0.0.1:${sim.pods[2]!.port}`;
      const prompt = `${file}: ${'a long shared system prompt about SQL schemas and joins. '.repeat(60)}`;
      const served: string[] = [];
      for (let i = 0; i < 6; i++) {
        const res = await postJson(`${gw.url}/v1/chat/completions`, chat('rewritten-model', prompt));
        await res.arrayBuffer();
        expect(res.status).toBe(200);
        served.push(res.headers.get('x-gateway-destination-endpoint')!);
      }
      expect(served).not.toContain(prefill);
      // After the first request its pod holds the prompt's blocks: the prefix-cache scorer keeps it there.
      expect(new Set(served.slice(1))).toEqual(new Set([served[0]]));
    });
  }

  describe('as manifests, through infergate apply and the admin API', () => {
    let gw: RunningGateway;
    const server = () => ['--server', gw.adminUrl!];
    beforeAll(async () => {
      gw = await startGateway({ port: 0, adminPort: 0, endpoints: join(dir, 'endpoints.json'), log: () => {} });
      gateways.push(gw);
    });

    it('inferencepool-with-model-hermetic.yaml (with a route) applies as a directory, warns about targetModels on objectives, and serves: rewrite, pass-through, objectives', async () => {
      const files = join(dir, 'hermetic');
      mkdirSync(files, { recursive: true });
      copyFileSync(join(LLMD!, 'inferencepool-with-model-hermetic.yaml'), join(files, 'inferencepool-with-model-hermetic.yaml'));
      writeFileSync(join(files, 'route.yaml'), poolAndRoute('vllm-qwen3-32b-pool', 'qwen').split('---\n')[1]!);
      const applied = await cli(apply, ['-f', files, ...server()]);
      expect(applied.code, applied.out).toBe(0);
      expect(applied.out).toMatch(/^inferencepool\.inference\.networking\.k8s\.io\/vllm-qwen3-32b-pool created$/m);
      expect(applied.out).toMatch(/^inferenceobjective\.llm-d\.ai\/sql-lora created$/m);
      expect(applied.out).toMatch(/^inferenceobjective\.inference\.networking\.x-k8s\.io\/sql-lora-sheddable-legacy created$/m);
      expect(applied.out).toMatch(/^inferencemodelrewrite\.llm-d\.ai\/rewrite-test created$/m);
      expect(applied.out).toMatch(/warning: InferenceObjective\/sql-lora: spec\.targetModels: is not a field of InferenceObjective \(llm-d\.ai\/v1alpha2\)/);
      await waitForMetrics(gw, ['vllm-qwen3-32b-pool']);
      const ask = (model: string, headers: Record<string, string> = {}) => postJson(`${gw.url}/v1/chat/completions`, chat(model), headers);
      const rewritten = await ask('model-to-be-rewritten');
      expect(rewritten.status).toBe(200);
      expect(((await rewritten.json()) as { model: string }).model).toBe('model-to-be-rewritten');
      expect((await ask('sql-lora-1fdg3', { 'x-llm-d-inference-objective': 'sql-lora-sheddable' })).status).toBe(200);
      expect((await ask('rewritten-model', { 'x-gateway-inference-objective': 'inference-objective-with-priority-4' })).status).toBe(200);
    });

    it('an unchanged apply reports every object unchanged and keeps the version', async () => {
      const before = gw.store.version;
      const again = await cli(apply, ['-f', join(dir, 'hermetic'), ...server()]);
      expect(again.code).toBe(0);
      expect(again.out).not.toMatch(/ (created|configured|deleted)$/m);
      expect(again.out).toMatch(/inferencemodelrewrite\.llm-d\.ai\/rewrite-test unchanged/);
      expect(gw.store.version).toBe(before);
    });

    it('get and describe show the objects by their own names, with status and events', async () => {
      const objectives = await cli(get, ['inferenceobjectives', ...server()]);
      expect(objectives.out).toMatch(/^NAMESPACE\s+NAME\s+INFERENCE POOL\s+PRIORITY\s+ACCEPTED$/m);
      expect(objectives.out).toMatch(/^default\s+inference-objective-with-priority-4\s+vllm-qwen3-32b-pool\s+4\s+True$/m);
      const pool = await cli(get, ['infpool', 'vllm-qwen3-32b-pool', '-o', 'yaml', ...server()]);
      expect(pool.out).toMatch(/^kind: InferencePool$/m);
      expect(pool.out).toMatch(/^status:\n {2}parents: \[\]$/m);
      const json = await cli(get, ['inferencemodelrewrites.llm-d.ai', '-o', 'json', ...server()]);
      // No NAME: a List, as kubectl gives it (even of one item).
      expect(JSON.parse(json.out)).toMatchObject({ kind: 'List', items: [{ kind: 'InferenceModelRewrite', status: { conditions: [{ type: 'Accepted', status: 'True' }, { type: 'ResolvedRefs', status: 'True' }] } }] });
      const described = await cli(describeCmd, ['inferenceobjective', 'sql-lora', ...server()]);
      expect(described.code).toBe(0);
      expect(described.out).toMatch(/^Name: {9}sql-lora$/m);
      expect(described.out).toMatch(/Accepted\s+True\s+Accepted\s+spec\.targetModels: is not a field/);
      expect(described.out).toMatch(/Normal\s+Applied\s+\S+\s+created in routing table version \d+/);
      expect(described.out).toMatch(/Warning\s+FieldIgnored/);
    });

    it('inferenceobjective.yaml, piped to apply -f - with a pool of its name, serves its objectives; an empty push is refused unless asked', async () => {
      const input = `${ecosystemFile(LLMD!, 'inferenceobjective.yaml')}\n---\n${poolAndRoute('vllm-qwen3-32b', 'qwen')}`;
      const piped = await run(['apply', '-f', '-', ...server()], input);
      expect(piped.code, piped.out).toBe(0);
      expect(piped.out).toMatch(/^inferenceobjective\.llm-d\.ai\/base-model created$/m);
      expect(piped.out).toMatch(/^inferencemodelrewrite\.llm-d\.ai\/rewrite-test deleted$/m);
      await waitForMetrics(gw, ['vllm-qwen3-32b']);
      expect((await postJson(`${gw.url}/v1/chat/completions`, chat('rewritten-model'), { 'x-llm-d-inference-objective': 'base-model' })).status).toBe(200);

      writeFileSync(join(dir, 'only-a-deployment.yaml'), 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: vllm }\n');
      const empty = await cli(apply, ['-f', join(dir, 'only-a-deployment.yaml'), ...server()]);
      expect(empty.code).toBe(1);
      expect(empty.out).toMatch(/holds no routing object .*--allow-empty/);
      const version = gw.store.version;
      const cleared = await cli(apply, ['-f', join(dir, 'only-a-deployment.yaml'), '--allow-empty', ...server()]);
      expect(cleared.code, cleared.out).toBe(0);
      expect(cleared.out).toMatch(/^deployment\.apps\/vllm ignored: not a routing object$/m);
      expect(cleared.out).toMatch(/^inferenceobjective\.llm-d\.ai\/base-model deleted$/m);
      expect(gw.store.version).toBe(version + 1);
    });
  });
});

/** `infergate ARGS` as a process, with `stdin` piped in. */
function run(args: string[], stdin: string): Promise<{ code: number; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['bin/infergate.js', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (b) => (out += b));
    child.stderr!.on('data', (b) => (out += b));
    child.on('exit', (code) => resolve({ code: code ?? -1, out }));
    child.stdin!.end(stdin);
  });
}
