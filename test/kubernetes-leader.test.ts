/**
 * Several gateway replicas against one (fake) API server: one Lease elects
 * the status writer; the others route the same way and write nothing.
 * Leadership moves when the leader stops (it releases the lease) or dies (its
 * lease runs out). And --gateway-class: only the routes attached to our
 * Gateways are ours, reported under their Gateway.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeKubeApiServer, type FakeKubeApiServer } from './fixtures/kube-apiserver/index.ts';
import { modelObject, NS, OBJECTIVE, objectiveObject, podObject, POOL, poolObject, ROUTE, routeObject, startGatewayOn, startSimPods, until, type SimPods } from './kubernetes-helpers.ts';
import type { KubernetesGateway } from '../src/runtime/node/kubernetes-gateway.ts';
import { LeaderElector } from '../src/kubernetes/leader.ts';
import type { KubernetesPort } from '../src/kubernetes/port.ts';
import { loadKubeConfig, NodeKubernetesPort } from '../src/runtime/node/kubernetes.ts';

const LEASE = { apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' };
type LeaseSpec = { holderIdentity?: string; leaseTransitions?: number; leaseDurationSeconds?: number; acquireTime?: string; renewTime?: string };

describe('two gateway replicas: one status writer, elected on a Lease', () => {
  let api: FakeKubeApiServer;
  let pods: SimPods;
  const replicas: KubernetesGateway[] = [];
  const lease = () => api.get({ ...LEASE, namespace: NS, name: 'infergate-gateway' })?.spec as LeaseSpec | undefined;
  const statusWrites = () => api.writes.filter((w) => w.path.endsWith('/status') && w.code === 200).length;

  beforeEach(async () => {
    api = await startFakeKubeApiServer({ bookmarkIntervalMs: 200 });
    pods = await startSimPods(1);
    api.create(podObject('vllm-0', pods.ip(0)));
    api.create(poolObject('llama', pods.port));
    api.create(modelObject('llama', 'llama', 'llama'));
    api.create(routeObject('llm-route', 'llama'));
  });
  afterEach(async () => {
    for (const r of replicas.splice(0)) await r.close();
    await pods.close();
    await api.close();
  });

  it('only the leader writes; when it stops, the other takes the lease and writes', async () => {
    replicas.push(await startGatewayOn(api, { identity: 'gateway-a' }));
    await until(() => lease()?.holderIdentity === 'gateway-a', 'gateway-a to lead');
    replicas.push(await startGatewayOn(api, { identity: 'gateway-b' }));
    const [a, b] = replicas as [KubernetesGateway, KubernetesGateway];
    await until(() => ((api.get({ ...POOL, namespace: NS, name: 'llama' })!.status as { parents?: unknown[] } | undefined)?.parents?.length ?? 0) > 0, 'the pool status');
    await a.routing.writer.idle();
    expect(lease()).toMatchObject({ holderIdentity: 'gateway-a', leaseTransitions: 0, leaseDurationSeconds: 2 });
    expect(lease()!.renewTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);

    // Both follow the table; a change is written once, by the leader.
    api.create(objectiveObject('urgent', 'llama', 5));
    // Objectives are named per pool (issue 13): the pool's table name is `namespace/name` here.
    const has = (gw: KubernetesGateway) => gw.store.current?.objectives.get(`${NS}/llama`)?.has('urgent') === true;
    await until(() => has(a) && has(b), 'both tables');
    await until(() => ((api.get({ ...OBJECTIVE, namespace: NS, name: 'urgent' })!.status as { conditions?: unknown[] } | undefined)?.conditions?.length ?? 0) === 1, 'the objective status');
    await new Promise((r) => setTimeout(r, 300)); // b had every chance to write, were it going to
    expect(a.routing.elector.isLeader).toBe(true);
    expect(b.routing.elector.isLeader).toBe(false);
    expect(a.routing.writer.stats.writes).toBeGreaterThanOrEqual(3); // pool, route, model, objective
    expect(b.routing.writer.stats.writes).toBe(0);
    expect(a.routing.writer.stats.conflicts + b.routing.writer.stats.conflicts).toBe(0);

    // The leader stops: it releases the lease, b takes it at its next try and writes what changed since.
    await a.close();
    replicas.shift();
    await until(() => b.routing.elector.isLeader, 'gateway-b to lead', 1000);
    expect(lease()).toMatchObject({ holderIdentity: 'gateway-b', leaseTransitions: 1 }); // a released it (holder emptied, transitions kept), b acquired it
    const before = statusWrites();
    api.modify({ ...OBJECTIVE, namespace: NS, name: 'urgent' }, (o) => ((o.spec as { priority: number }).priority = 7));
    await until(() => (api.get({ ...OBJECTIVE, namespace: NS, name: 'urgent' })!.status as { conditions: { observedGeneration: number }[] }).conditions[0]!.observedGeneration === 2, 'b writing the new generation');
    await b.routing.writer.idle(); // the write has landed on the server; b counts it when its answer arrives
    expect(statusWrites()).toBe(before + 1);
    expect(b.routing.writer.stats.writes).toBe(1);
  });

  it("--namespace NS: the Lease stays in the pod's own namespace, where its Role is; --lease-namespace moves it", async () => {
    // The pod's namespace as the service account mount gives it (deploy/base: infergate), not the watched one.
    const dir = mkdtempSync(join(tmpdir(), 'infergate-sa-'));
    const podNamespaceFile = join(dir, 'namespace');
    writeFileSync(podNamespaceFile, 'infergate');
    try {
      replicas.push(await startGatewayOn(api, { identity: 'gateway-a', namespace: NS, podNamespaceFile }));
      const leaseIn = (namespace: string, name = 'infergate-gateway') => api.get({ ...LEASE, namespace, name })?.spec as LeaseSpec | undefined;
      await until(() => leaseIn('infergate')?.holderIdentity === 'gateway-a', 'the lease taken in infergate');
      expect(lease()).toBeUndefined(); // none in the watched namespace
      await until(() => ((api.get({ ...POOL, namespace: NS, name: 'llama' })!.status as { parents?: unknown[] } | undefined)?.parents?.length ?? 0) > 0, 'status written by the leader');

      replicas.push(await startGatewayOn(api, { identity: 'gateway-b', namespace: NS, podNamespaceFile, leaseNamespace: 'ops', leaseName: 'other' }));
      await until(() => leaseIn('ops', 'other')?.holderIdentity === 'gateway-b', 'the lease taken in --lease-namespace');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a leader that dies without releasing: the lease runs out, another takes over; the dead one stops leading', async () => {
    const kc = loadKubeConfig(api.kubeconfig(NS));
    let dead = false;
    const real = new NodeKubernetesPort(kc);
    // A replica cut off from the API server: every lease call fails from now on.
    const cutOff: KubernetesPort = new Proxy(real, {
      get(target, prop, receiver) {
        const value = Reflect.get(target, prop, receiver) as unknown;
        if (typeof value !== 'function') return value;
        return (...args: unknown[]) => (dead ? Promise.reject(new Error('connection refused')) : (value as (...a: unknown[]) => unknown).apply(target, args));
      },
    });
    const timing = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100, namespace: NS, name: 'infergate-gateway' };
    const a = new LeaderElector(cutOff, { ...timing, identity: 'a' });
    const b = new LeaderElector(new NodeKubernetesPort(kc), { ...timing, identity: 'b' });
    a.start();
    await until(() => a.isLeader, 'a to lead');
    b.start();
    await new Promise((r) => setTimeout(r, 300));
    expect(b.isLeader).toBe(false);

    dead = true;
    const diedAt = Date.now();
    await until(() => !a.isLeader, 'a to step down', 2000);
    const steppedDown = Date.now() - diedAt;
    await until(() => b.isLeader, 'b to take over', 3000);
    const tookOver = Date.now() - diedAt;
    // a gives up after its renew deadline; b waits out a full lease duration from when it last saw a renew.
    expect(steppedDown).toBeGreaterThanOrEqual(400);
    expect(tookOver).toBeGreaterThanOrEqual(800);
    expect(steppedDown).toBeLessThan(tookOver);
    expect(lease()).toMatchObject({ holderIdentity: 'b', leaseTransitions: 1 });
    await b.stop();
    await a.stop();
  });
});

describe('--gateway-class: the routes of our Gateways only', () => {
  let api: FakeKubeApiServer;
  let pods: SimPods;
  let gw: KubernetesGateway | undefined;
  const GATEWAY = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' };

  beforeEach(async () => {
    // A cluster with GIE v1 only: the x-k8s.io alpha CRDs are not installed (404), which is no error.
    api = await startFakeKubeApiServer({ unserved: ['inference.networking.x-k8s.io'] });
    pods = await startSimPods(1);
  });
  afterEach(async () => {
    await gw?.close();
    await pods.close();
    await api.close();
  });

  it('serves routes attached to a Gateway of its class, reports under that Gateway, leaves the others alone', async () => {
    api.create({ ...GATEWAY, metadata: { name: 'inference-gateway', namespace: NS }, spec: { gatewayClassName: 'infergate', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
    api.create({ ...GATEWAY, metadata: { name: 'istio', namespace: NS }, spec: { gatewayClassName: 'istio', listeners: [{ name: 'http', port: 80, protocol: 'HTTP' }] } });
    api.create(podObject('vllm-0', pods.ip(0)));
    api.create(poolObject('llama', pods.port));
    api.create(routeObject('ours', 'llama', { parentRefs: [{ name: 'inference-gateway' }] }));
    api.create(routeObject('theirs', 'llama', { parentRefs: [{ name: 'istio' }], path: '/v1/completions' }));
    gw = await startGatewayOn(api, { gatewayClass: 'infergate' });
    await until(() => ((api.get({ ...ROUTE, namespace: NS, name: 'ours' })!.status as { parents?: unknown[] } | undefined)?.parents?.length ?? 0) > 0, 'our route status');
    await gw.routing.writer.idle();

    // Outside the default namespace the table names objects `namespace/name` (issue 13).
    expect(gw.store.current!.source.routes.map((r) => r.name)).toEqual([`${NS}/ours`]);
    expect(gw.store.current!.source.pools.map((p) => p.name)).toEqual([`${NS}/llama`]);
    expect(gw.routing.source.problem).toBeUndefined(); // the missing alpha CRDs are no problem
    expect((api.get({ ...ROUTE, namespace: NS, name: 'ours' })!.status as { parents: unknown[] }).parents).toEqual([
      expect.objectContaining({ parentRef: { name: 'inference-gateway' }, controllerName: 'infergate.dev/gateway-controller' }),
    ]);
    expect(api.get({ ...ROUTE, namespace: NS, name: 'theirs' })!.status).toBeUndefined();
    expect((api.get({ ...POOL, namespace: NS, name: 'llama' })!.status as { parents: unknown[] }).parents).toEqual([
      expect.objectContaining({ parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'inference-gateway', namespace: NS } }),
    ]);
    expect(api.writes.some((w) => w.path.includes('/gateways/'))).toBe(false);
  });
});
