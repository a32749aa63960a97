/**
 * `infergate gateway --workers 2` as a child process against simulated pods:
 * both workers answer on the shared port, a routing table pushed to the admin
 * port reaches every worker, a killed worker is replaced while traffic keeps
 * flowing, the admin /metrics sums the workers, and SIGTERM leaves no process
 * behind.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { parsePrometheusText } from '../src/agent/prom-text.ts';
import { run as apply } from '../src/cli/commands/apply.ts';
import { SEED_MANIFESTS, chat, startDemoPods, type DemoPods } from './harness.ts';
import { ROOT, startChild, type Child } from './runtimes/spawn.ts';
import { parseStrict } from './prom-strict.ts';

const TOKEN = 'cluster-e2e-token';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

let pods: DemoPods;
let dir: string;
let gateway: Child;
let url: string;
let admin: string;

beforeAll(async () => {
  pods = await startDemoPods({ podsPerPool: (name) => (name === 'gemma3' ? 2 : 1), timeScale: 0.01, prefix: 'infergate-cluster-' });
  dir = pods.dir;
});

afterAll(() => pods.close());

const gatewayArgs = (...more: string[]) => ['bin/infergate.js', 'gateway', '--workers', '2', '--manifests', SEED_MANIFESTS, '--endpoints', join(dir, 'endpoints.json'), ...more];

/** POST a chat completion; `agent: false` opens a fresh connection (the primary hands each to the next worker). */
function send(model: string, agent: Agent | false): Promise<number> {
  return new Promise((resolve, reject) => {
    const body = JSON.stringify(chat(model));
    const headers = { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) };
    const req = request(`${url}/v1/chat/completions`, { method: 'POST', agent, headers, timeout: 5000 }, (res) => {
      res.resume();
      res.once('end', () => resolve(res.statusCode!));
      res.once('error', reject);
    });
    req.once('timeout', () => req.destroy(new Error(`no answer for ${model} within 5 s`)));
    req.once('error', reject);
    req.end(body);
  });
}

const sendFresh = (model: string, n: number) => Promise.all(Array.from({ length: n }, () => send(model, false)));

async function metrics(): Promise<{ text: string; perWorker: Map<string, { pid: number; requests: number }>; requests: number; restarts: number }> {
  const text = await (await fetch(`${admin}/metrics`)).text();
  const samples = parsePrometheusText(text);
  const perWorker = new Map(samples.filter((s) => s.name === 'infergate_worker_requests_total').map((s) => [s.labels.worker!, { pid: Number(s.labels.pid), requests: s.value }]));
  const requests = samples.filter((s) => s.name === 'infergate_requests_total').reduce((sum, s) => sum + s.value, 0);
  const restarts = samples.find((s) => s.name === 'infergate_worker_restarts_total')?.value ?? NaN;
  return { text, perWorker, requests, restarts };
}

const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

/** Every process below `root` (the workers and whatever they started). */
function descendants(root: number): number[] {
  const rows = execFileSync('ps', ['-e', '-o', 'pid=,ppid='], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .map((l) => l.trim().split(/\s+/).map(Number) as [number, number]);
  const found: number[] = [];
  const walk = (pid: number) => rows.filter(([, ppid]) => ppid === pid).forEach(([child]) => (found.push(child), walk(child)));
  walk(root);
  return found;
}

async function quietly<T>(fn: () => Promise<T>): Promise<T> {
  const log = vi.spyOn(console, 'log').mockImplementation(() => {});
  const err = vi.spyOn(console, 'error').mockImplementation(() => {});
  try {
    return await fn();
  } finally {
    log.mockRestore();
    err.mockRestore();
  }
}

describe('infergate gateway --workers 2', () => {
  beforeAll(async () => {
    gateway = startChild(process.execPath, gatewayArgs('--port', '0', '--admin-port', '0', '--token', TOKEN), {}, ROOT);
    const [line] = await gateway.waitFor(/\{[^\n]*"msg":"gateway listening"[^\n]*\}/, 20_000);
    const listening = JSON.parse(line) as { url: string; admin: string; workers: number; version: number };
    expect(listening).toMatchObject({ workers: 2, version: 1 });
    url = listening.url;
    admin = listening.admin;
  });
  afterAll(() => gateway?.stop());

  it('both workers answer over keep-alive connections, and the admin /metrics sums them', async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 24 });
    try {
      const statuses: number[] = [];
      for (let round = 0; round < 3; round++) statuses.push(...(await Promise.all(Array.from({ length: 24 }, () => send('chatbot', agent)))));
      expect(statuses).toEqual(Array(72).fill(200));
    } finally {
      agent.destroy();
    }
    const m = await metrics();
    expect([...m.perWorker.keys()].sort()).toEqual(['0', '1']);
    const [a, b] = [...m.perWorker.values()];
    expect(a!.pid).not.toBe(b!.pid);
    expect(a!.requests).toBeGreaterThan(0);
    expect(b!.requests).toBeGreaterThan(0);
    expect(a!.requests + b!.requests).toBe(72);
    expect(m.requests).toBe(72);
    expect(parsePrometheusText(m.text).find((s) => s.name === 'infergate_requests_total')).toMatchObject({ labels: { pool: 'gemma3', model: 'chatbot', code: '200' }, value: 72 });
    const help = m.text.split('\n').filter((l) => l.startsWith('# HELP '));
    expect(new Set(help).size).toBe(help.length);
  });

  it('the merged page is strictly valid: GIE series summed over workers, pool gauges once (from the primary)', async () => {
    const page = parseStrict((await metrics()).text);
    expect(page.value('inference_objective_request_total', { model_name: 'chatbot', priority: '0' })).toBe(72);
    expect(page.value('inference_objective_running_requests', { model_name: 'chatbot' })).toBe(0);
    expect(page.value('inference_pool_ready_pods', { name: 'gemma3' })).toBe(2);
    expect(page.value('inference_pool_ready_pods', { name: 'deepseek-r1' })).toBe(1);
    expect(page.value('inference_extension_info')).toBe(1);
    expect(page.sum('inference_extension_scheduler_attempts_total', { status: 'success' })).toBe(72);
  });

  it('the dashboard on the primary hears the workers’ requests while a page is open', async () => {
    const stream = await fetch(`${admin}/dashboard/events`, { headers: { authorization: `Bearer ${TOKEN}` } });
    expect(stream.status).toBe(200);
    const reader = stream.body!.getReader();
    const decoder = new TextDecoder();
    let text = '';
    const seen = { requests: 0, decisions: 0 };
    const deadline = Date.now() + 8000;
    const sending = (async () => {
      while (Date.now() < deadline && (seen.requests < 8 || seen.decisions < 8)) await sendFresh('chatbot', 4);
    })();
    while (Date.now() < deadline && (seen.requests < 8 || seen.decisions < 8)) {
      const { value, done } = await reader.read();
      if (done) break;
      text += decoder.decode(value, { stream: true });
      let end: number;
      while ((end = text.indexOf('\n\n')) >= 0) {
        const frame = text.slice(0, end);
        text = text.slice(end + 2);
        const data = /^data: (.*)$/m.exec(frame)?.[1];
        if (!data) continue;
        const event = JSON.parse(data) as { type: string; point?: { requests: number }; decisions?: { explanation?: unknown }[] };
        if (event.type === 'point') seen.requests += event.point!.requests;
        if (event.type === 'decisions') seen.decisions += event.decisions!.length;
      }
    }
    await reader.cancel();
    await sending;
    expect(seen.requests).toBeGreaterThanOrEqual(8);
    expect(seen.decisions).toBeGreaterThanOrEqual(8);
  });

  it('a table applied on the admin port reaches every worker within 2 s', async () => {
    expect(await sendFresh('newbot', 4)).toEqual(Array(4).fill(404));
    const changed = `${readFileSync(SEED_MANIFESTS, 'utf8')}\n---\napiVersion: inference.networking.x-k8s.io/v1alpha2\nkind: InferenceModel\nmetadata:\n  name: newbot\nspec:\n  modelName: newbot\n  poolRef:\n    name: gemma3\n  targetModels:\n  - name: google/gemma-3-4b-it\n`;
    writeFileSync(join(dir, 'changed.yaml'), changed);
    expect(await quietly(() => apply(['-f', join(dir, 'changed.yaml'), '--server', admin, '--token', TOKEN]))).toBe(0);
    const appliedAt = Date.now();
    for (;;) {
      const before = (await metrics()).perWorker;
      const statuses = await sendFresh('newbot', 8);
      if (statuses.every((s) => s === 200)) {
        // The batch that succeeded whole was served by both workers.
        const after = (await metrics()).perWorker;
        for (const [slot, w] of after) expect(w.requests, `worker ${slot}`).toBeGreaterThan(before.get(slot)!.requests);
        break;
      }
      expect(Date.now() - appliedAt, `statuses ${statuses}`).toBeLessThan(2000);
      await sleep(50);
    }
  });

  it('a worker killed with SIGKILL is replaced, and traffic keeps being served', async () => {
    const before = await metrics();
    const victim = before.perWorker.get('0')!.pid;
    const survivor = before.perWorker.get('1')!.pid;
    process.kill(victim, 'SIGKILL');
    // A connection the primary hands to the worker in the instant it dies, before the primary knows, is lost:
    // node:cluster's round-robin hand-off cannot take it back (docs/runtime-node.md). From then on, none is.
    await gateway.waitFor(new RegExp(`"msg":"gateway worker exited; replacing it","worker":0,"pid":${victim},"code":null,"signal":"SIGKILL"`), 5000);
    const statuses: number[] = [];
    let replacement: number | undefined;
    const deadline = Date.now() + 15_000;
    while (replacement === undefined) {
      expect(Date.now(), 'no replacement worker within 15 s').toBeLessThan(deadline);
      statuses.push(...(await sendFresh('chatbot', 2)));
      const pid = (await metrics()).perWorker.get('0')?.pid;
      if (pid !== undefined && pid !== victim) replacement = pid;
      else await sleep(100);
    }
    expect(statuses.every((s) => s === 200), `statuses while worker 0 was down: ${statuses}`).toBe(true);
    expect(alive(victim)).toBe(false);
    const m0 = await metrics();
    // The dead worker's last counts stay in the sums: a summed counter never goes down.
    expect(m0.requests).toBeGreaterThanOrEqual(before.requests);
    expect(await sendFresh('chatbot', 8)).toEqual(Array(8).fill(200));
    const m1 = await metrics();
    expect(m1.restarts).toBe(1);
    expect(m1.perWorker.get('1')!.pid).toBe(survivor);
    expect(m1.perWorker.get('0')!.requests).toBeGreaterThan(m0.perWorker.get('0')!.requests);
    // The replacement follows the current table (applied before it was born).
    expect(await sendFresh('newbot', 4)).toEqual(Array(4).fill(200));
  });

  it('SIGTERM to the primary stops every worker and exits 0', async () => {
    const primary = gateway.process.pid!;
    const children = descendants(primary);
    expect(children.length).toBeGreaterThanOrEqual(2);
    const exited = new Promise<number | null>((resolve) => gateway.process.once('exit', (code) => resolve(code)));
    process.kill(primary, 'SIGTERM');
    expect(await exited).toBe(0);
    const deadline = Date.now() + 3000;
    while (children.some(alive) && Date.now() < deadline) await sleep(50);
    expect(children.filter(alive)).toEqual([]);
  });
});

describe('infergate gateway --workers 2 that cannot start', () => {
  it('fails with a clear error when the data-plane port is taken, and leaves no worker behind', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as AddressInfo).port;
    const child = startChild(process.execPath, gatewayArgs('--port', String(port), '--admin-port', '-1'), {}, ROOT);
    try {
      const exited = new Promise<number | null>((resolve) => child.process.once('exit', (code) => resolve(code)));
      expect(await exited).toBe(1);
      expect(child.output()).toMatch(new RegExp(`infergate gateway: the data-plane workers could not start: cannot listen on 127.0.0.1:${port}: the address is already in use .*\\(EADDRINUSE\\)`));
      expect(child.output()).not.toMatch(/replacing it/);
      // The workers were in the primary's process group (startChild detaches it): none is left.
      expect(() => process.kill(-child.process.pid!, 0)).toThrow();
    } finally {
      await child.stop();
      taken.close();
    }
  });
});
