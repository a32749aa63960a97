/**
 * `infergate agent --kubernetes` and `infergate gateway --kubernetes` as
 * processes, configured as outside a cluster: a kubeconfig file named by
 * KUBECONFIG (the client's loadFromDefault), namespace by flag or by
 * INFERGATE_NAMESPACE.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, createClient } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { EndpointService } from '../src/gen/infergate/v1/endpoint_pb.ts';
import { sendBearer } from '../src/rpc/auth.ts';
import { startFakeKubeApiServer, type FakeKubeApiServer } from './fixtures/kube-apiserver/index.ts';
import { modelObject, NS, podObject, poolObject, routeObject, startSimPods, until, type SimPods } from './kubernetes-helpers.ts';

function start(args: string[], env: Record<string, string>): { child: ChildProcess; url: Promise<string>; stderr: () => string } {
  const child = spawn(process.execPath, ['bin/infergate.js', ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr!.on('data', (b) => (err += b));
  const url = (async () => {
    for await (const line of createInterface({ input: child.stdout! })) {
      const parsed = JSON.parse(line) as { msg?: string; url?: string };
      if (parsed.url && /listening/.test(parsed.msg ?? '')) return parsed.url;
    }
    throw new Error(`exited before listening: ${err}`);
  })();
  return { child, url, stderr: () => err };
}

async function stop(child: ChildProcess): Promise<number | null> {
  const code = new Promise<number | null>((resolve) => child.on('exit', resolve));
  child.kill('SIGTERM');
  return code;
}

describe('infergate agent|gateway --kubernetes', () => {
  let api: FakeKubeApiServer;
  let pods: SimPods;
  let dir: string;
  let env: Record<string, string>;

  beforeAll(async () => {
    api = await startFakeKubeApiServer();
    pods = await startSimPods(2);
    api.create(poolObject('llama', pods.port));
    api.create(modelObject('llama', 'llama', 'llama'));
    api.create(routeObject('llm-route', 'llama'));
    api.create(podObject('vllm-0', pods.ip(0)));
    api.create(podObject('vllm-1', pods.ip(1), { ready: false }));
    api.create({ ...podObject('elsewhere', pods.ip(1)), metadata: { name: 'elsewhere', namespace: 'other', labels: { app: 'llama' } } });
    dir = mkdtempSync(join(tmpdir(), 'infergate-kube-'));
    writeFileSync(join(dir, 'config'), api.kubeconfig(NS));
    env = { KUBECONFIG: join(dir, 'config'), INFERGATE_NAMESPACE: NS };
  });
  afterAll(async () => {
    await pods.close();
    await api.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('the agent scrapes the ready pods of the pools and follows them; a gateway routes with it (deploy/base\'s topology)', async () => {
    const agent = start(['agent', '--kubernetes', '--port', '0', '--scrape-interval', '20'], env);
    const url = await agent.url;
    const endpoints = async () => ((await (await fetch(`${url}/debug/endpoints`)).json()) as { endpoints: { id: string; ready: boolean }[] }).endpoints.map((e) => e.id).sort();
    expect(await endpoints()).toEqual([`${pods.ip(0)}:${pods.port}`]);
    expect((await fetch(`${url}/readyz`)).status).toBe(200);
    api.modify({ apiVersion: 'v1', kind: 'Pod', namespace: NS, name: 'vllm-1' }, (o) => ((o.status as { conditions: unknown[] }).conditions = [{ type: 'Ready', status: 'True' }]));
    await until(async () => (await endpoints()).length === 2, 'vllm-1 scraped');

    // The gateway takes routes from the cluster and endpoints from that agent.
    const gateway = start(['gateway', '--kubernetes', '--agent', url, '--port', '0', '--admin-port', '-1'], env);
    const gatewayUrl = await gateway.url;
    await until(async () => (await fetch(`${gatewayUrl}/readyz`)).status === 200, 'the gateway ready', 5000);
    const answer = await fetch(`${gatewayUrl}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) });
    expect(answer.status).toBe(200);
    expect(await stop(gateway.child)).toBe(0);
    expect(await stop(agent.child)).toBe(0);
  });

  it("the agent with --token: the pods' addresses only with the token, probes and metrics open; a gateway with --agent-token follows it", async () => {
    const TOKEN = 'agent-secret';
    const agent = start(['agent', '--kubernetes', '--port', '0', '--scrape-interval', '20', '--token', TOKEN], env);
    const url = await agent.url;
    const auth = { authorization: `Bearer ${TOKEN}` };
    expect((await fetch(`${url}/debug/endpoints`)).status).toBe(401);
    expect((await fetch(`${url}/debug/endpoints`, { headers: { authorization: 'Bearer wrong' } })).status).toBe(401);
    expect((await fetch(`${url}/debug/endpoints`, { headers: auth })).status).toBe(200);
    for (const open of ['/healthz', '/readyz', '/metrics']) expect((await fetch(`${url}${open}`)).status, open).toBe(200);

    // EndpointService over each protocol the agent serves, plain gRPC on h2c included (its own listener).
    const request = { selector: { app: 'llama' }, targetPorts: [pods.port], pool: `${NS}/llama` };
    for (const transport of [createConnectTransport({ baseUrl: url, httpVersion: '1.1' }), createGrpcTransport({ baseUrl: url })]) {
      await expect(createClient(EndpointService, transport).getEndpoints(request)).rejects.toMatchObject({ code: Code.Unauthenticated });
    }
    for (const transport of [createConnectTransport({ baseUrl: url, httpVersion: '1.1', interceptors: [sendBearer(TOKEN)] }), createGrpcTransport({ baseUrl: url, interceptors: [sendBearer(TOKEN)] })]) {
      const answer = await createClient(EndpointService, transport).getEndpoints(request);
      expect(answer.snapshot!.endpoints.length).toBeGreaterThan(0);
    }

    // A gateway without the token gets nothing from it (no ready endpoint: not ready); with it, it routes.
    const chat = (base: string) => fetch(`${base}/v1/chat/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }) });
    const refused = start(['gateway', '--kubernetes', '--agent', url, '--port', '0', '--admin-port', '-1'], env);
    const refusedUrl = await refused.url;
    await new Promise((r) => setTimeout(r, 500));
    expect((await fetch(`${refusedUrl}/readyz`)).status).toBe(503);
    expect(await stop(refused.child)).toBe(0);
    const gateway = start(['gateway', '--kubernetes', '--agent', url, '--port', '0', '--admin-port', '-1'], { ...env, INFERGATE_AGENT_TOKEN: TOKEN });
    const gatewayUrl = await gateway.url;
    await until(async () => (await fetch(`${gatewayUrl}/readyz`)).status === 200, 'the gateway ready', 5000);
    expect((await chat(gatewayUrl)).status).toBe(200);
    expect(await stop(gateway.child)).toBe(0);
    expect(await stop(agent.child)).toBe(0);
  });

  it('the gateway serves the routes and pods of the cluster, and releases its lease on SIGTERM', async () => {
    const gateway = start(['gateway', '--kubernetes', '--port', '0', '--admin-port', '-1'], env);
    const url = await gateway.url;
    await until(async () => (await fetch(`${url}/readyz`)).status === 200, 'ready', 5000);
    const models = (await (await fetch(`${url}/v1/models`)).json()) as { data: { id: string }[] };
    expect(models.data.map((m) => m.id)).toEqual(['llama']);
    const lease = () => api.get({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', namespace: NS, name: 'infergate-gateway' })?.spec as { holderIdentity?: string } | undefined;
    await until(() => !!lease()?.holderIdentity, 'the lease taken', 5000);
    expect(await stop(gateway.child)).toBe(0);
    expect(lease()?.holderIdentity).toBe('');
  });

  it('refuses --kubernetes with a routing source of its own', async () => {
    const child = spawn(process.execPath, ['bin/infergate.js', 'gateway', '--kubernetes', '--manifests', 'x.yaml'], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } });
    let err = '';
    child.stderr!.on('data', (b) => (err += b));
    expect(await new Promise((resolve) => child.on('exit', resolve))).toBe(2);
    expect(err).toMatch(/--kubernetes takes routes and pods from the cluster/);
  });
});
