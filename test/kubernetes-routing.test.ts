/**
 * The gateway with --kubernetes takes its routing table from the (fake) API
 * server: HTTPRoute, InferencePool, InferenceModel and InferenceObjective
 * created, changed and deleted → traffic follows without a restart; an
 * invalid change → the object's status says why and traffic stays as it was;
 * status is written back as the Inference Extension and the Gateway API define it.
 */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startFakeKubeApiServer, type FakeKubeApiServer, type KubeObject } from './fixtures/kube-apiserver/index.ts';
import { modelObject, NS, OBJECTIVE, objectiveObject, podObject, POOL, poolObject, ROUTE, routeObject, startGatewayOn, startSimPods, until, type SimPods } from './kubernetes-helpers.ts';
import type { KubernetesGateway } from '../src/runtime/node/kubernetes-gateway.ts';
import { DEFAULT_CONTROLLER_NAME } from '../src/kubernetes/index.ts';

type Cond = { type: string; status: string; reason: string; message: string; observedGeneration: number; lastTransitionTime: string };
type Parents = { parents?: { parentRef: Record<string, string>; controllerName?: string; conditions: Cond[] }[] };

describe('gateway --kubernetes: routing objects from the API server', () => {
  let api: FakeKubeApiServer;
  let pods: SimPods;
  let gw: KubernetesGateway;
  let client: OpenAI;
  const ask = (extra: { headers?: Record<string, string> } = {}) =>
    client.chat.completions.create({ model: 'llama', messages: [{ role: 'user', content: 'hi' }], max_tokens: 2 }, { headers: extra.headers });
  const served = async (n: number) => {
    const before = pods.finished();
    for (let i = 0; i < n; i++) await ask();
    return pods.finished().map((x, i) => x - before[i]!);
  };
  const get = (ref: { apiVersion: string; kind: string }, name: string) => api.get({ ...ref, namespace: NS, name })!;

  beforeAll(async () => {
    api = await startFakeKubeApiServer({ bookmarkIntervalMs: 200 });
    pods = await startSimPods(2, { timeScale: 0.02 });
    api.create(podObject('vllm-a', pods.ip(0), { labels: { app: 'llama' } }));
    api.create(podObject('vllm-b', pods.ip(1), { labels: { app: 'llama-b' } }));
    gw = await startGatewayOn(api);
    client = new OpenAI({ baseURL: `${gw.url}/v1`, apiKey: 'unused', maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await pods?.close();
    await api?.close();
  });

  it('objects created, changed and deleted: traffic follows, each accepted change a new table version', async () => {
    expect(gw.store.current).toBeDefined(); // an empty cluster is an empty (valid) table
    await expect(ask()).rejects.toMatchObject({ status: 404 });
    const v0 = gw.store.version;

    api.create(poolObject('llama', pods.port));
    api.create(modelObject('llama', 'llama', 'llama'));
    api.create(routeObject('llm-route', 'llama'));
    await until(async () => (await ask().then(() => true, () => false)), 'the route to serve', 3000);
    expect(gw.store.version).toBeGreaterThan(v0);
    expect(await served(4)).toEqual([4, 0]);

    // The pool selects other pods: traffic moves.
    const v1 = gw.store.version;
    api.modify({ ...POOL, namespace: NS, name: 'llama' }, (o) => ((o.spec as { selector: { matchLabels: Record<string, string> } }).selector.matchLabels = { app: 'llama-b' }));
    await until(() => gw.store.version === v1 + 1, 'the new table');
    // (vllm-b's first scrape may be a few ms away: until then the FailClose pool answers 503)
    await until(async () => (await served(1).catch(() => [0, 0]))[1] === 1, 'traffic on vllm-b');
    expect(await served(4)).toEqual([0, 4]);

    // An objective: created, its priority is the pool's; changed, the new one; deleted, gone. An unknown name is
    // served at priority 0, as llm-d's director does (issue 13 changed this test: it asserted a 400 before).
    const urgent = { headers: { 'x-gateway-inference-objective': 'urgent' } };
    const objective = () => gw.store.current!.objectives.get(`${NS}/llama`)?.get('urgent');
    await ask(urgent);
    api.create(objectiveObject('urgent', 'llama', 10));
    await until(() => objective()?.priority === 10, 'the objective');
    await ask(urgent);
    api.modify({ ...OBJECTIVE, namespace: NS, name: 'urgent' }, (o) => ((o.spec as { priority: number }).priority = -1));
    await until(() => objective()?.priority === -1, 'the new priority');
    api.remove({ ...OBJECTIVE, namespace: NS, name: 'urgent' });
    await until(() => objective() === undefined, 'the objective gone');
    await ask(urgent);

    // The route stops matching /v1/chat/completions, then comes back, then goes.
    api.modify({ ...ROUTE, namespace: NS, name: 'llm-route' }, (o) => ((o.spec as { rules: { matches: { path: { value: string } }[] }[] }).rules[0]!.matches[0]!.path.value = '/v1/completions'));
    await until(async () => (await ask().then(() => false, (e: { status?: number }) => e.status === 404)), 'chat not routed');
    api.modify({ ...ROUTE, namespace: NS, name: 'llm-route' }, (o) => ((o.spec as { rules: { matches: { path: { value: string } }[] }[] }).rules[0]!.matches[0]!.path.value = '/'));
    await until(async () => (await ask().then(() => true, () => false)), 'chat routed again');
    api.remove({ ...ROUTE, namespace: NS, name: 'llm-route' });
    await until(async () => (await ask().then(() => false, (e: { status?: number }) => e.status === 404)), 'no route');
    api.create(routeObject('llm-route', 'llama'));
    await until(async () => (await ask().then(() => true, () => false)), 'the route back');
  });

  it('an invalid change: its status says why, the previous version keeps serving', async () => {
    const version = gw.store.version;
    api.modify({ ...POOL, namespace: NS, name: 'llama' }, (o) => ((o.spec as { targetPorts: unknown[] }).targetPorts = []));
    const generation = get(POOL, 'llama').metadata.generation!;
    await until(() => ((get(POOL, 'llama').status as Parents | undefined)?.parents?.[0]?.conditions ?? []).some((c) => c.type === 'Accepted' && c.status === 'False' && c.observedGeneration === generation), 'Accepted False on the pool');
    const accepted = (get(POOL, 'llama').status as Parents).parents![0]!.conditions.find((c) => c.type === 'Accepted')!;
    expect(accepted.reason).toBe('Invalid');
    expect(accepted.message).toMatch(/spec\.targetPorts: needs at least one port/);
    expect(accepted.message).toMatch(/previous accepted version \(generation \d+\) is still in use/);
    expect(gw.store.version).toBe(version);
    expect(await served(3)).toEqual([0, 3]);
    expect(gw.routing.source.problem).toBeUndefined(); // the table is fine: the pool's last good version is in it

    // A route to a pool that does not exist: ResolvedRefs False (BackendNotFound), the rest unaffected.
    api.create(routeObject('to-nowhere', 'missing-pool', { path: '/v1/completions' }));
    await until(() => ((get(ROUTE, 'to-nowhere').status as Parents | undefined)?.parents?.[0]?.conditions ?? []).some((c) => c.type === 'ResolvedRefs' && c.reason === 'BackendNotFound'), 'BackendNotFound on the route');
    expect(await served(2)).toEqual([0, 2]);

    // Fixed: accepted again, at the new generation.
    api.modify({ ...POOL, namespace: NS, name: 'llama' }, (o) => ((o.spec as { targetPorts: unknown[] }).targetPorts = [{ number: pods.port }]));
    const fixed = get(POOL, 'llama').metadata.generation!;
    await until(() => ((get(POOL, 'llama').status as Parents).parents![0]!.conditions ?? []).some((c) => c.type === 'Accepted' && c.status === 'True' && c.observedGeneration === fixed), 'Accepted True again');
    api.remove({ ...ROUTE, namespace: NS, name: 'to-nowhere' });
  });

  it('status as GIE and the Gateway API define it, written only when it changes, other controllers left alone', async () => {
    // Another controller's entry on the pool must survive our writes.
    const other = { parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', name: 'istio-gw', namespace: NS }, controllerName: 'istio.io/gateway-controller', conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' }] };
    api.modify({ ...POOL, namespace: NS, name: 'llama' }, (o) => {
      o.status = { parents: [other, ...((o.status as Parents).parents ?? [])] };
    });
    api.create(objectiveObject('batch', 'llama', -5));
    await until(() => ((get(OBJECTIVE, 'batch').status as { conditions?: Cond[] } | undefined)?.conditions ?? []).length > 0, 'the objective status');
    await gw.routing.writer.idle();

    const pool = get(POOL, 'llama');
    const parents = (pool.status as Parents).parents!;
    expect(parents[0]).toEqual(other);
    expect(parents[1]).toMatchObject({ parentRef: { kind: 'Status', name: 'default' }, controllerName: DEFAULT_CONTROLLER_NAME });
    const byType = Object.fromEntries(parents[1]!.conditions.map((c) => [c.type, c]));
    expect(byType.Accepted).toMatchObject({ status: 'True', reason: 'Accepted', observedGeneration: pool.metadata.generation });
    expect(byType.ResolvedRefs).toMatchObject({ status: 'True', reason: 'ResolvedRefs', observedGeneration: pool.metadata.generation });
    expect(byType.Accepted!.lastTransitionTime).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);

    const route = get(ROUTE, 'llm-route');
    expect((route.status as Parents).parents).toEqual([
      {
        parentRef: { kind: 'Status', name: 'default' },
        controllerName: DEFAULT_CONTROLLER_NAME,
        conditions: [expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs' })],
      },
    ]);
    const objective = get(OBJECTIVE, 'batch');
    expect((objective.status as { conditions: Cond[] }).conditions).toEqual([expect.objectContaining({ type: 'Accepted', status: 'True', reason: 'Accepted', observedGeneration: 1 })]);

    // Nothing changed: nothing is written (pod churn, a bookmark, a relist are no reason).
    const statusWrites = () => api.writes.filter((w) => w.path.endsWith('/status')).length;
    const before = statusWrites();
    api.compact({ expireWatches: true });
    await until(() => api.openWatches('InferencePool') >= 1, 'the watches back');
    await new Promise((r) => setTimeout(r, 200));
    await gw.routing.writer.idle();
    expect(statusWrites()).toBe(before);
  });

  it('a status write that conflicts is re-read and retried, not forced', async () => {
    const conflicts = gw.routing.writer.stats.conflicts;
    api.fail({ method: 'PUT', path: /inferenceobjectives\/batch\/status$/, code: 409, times: 2 });
    api.modify({ ...OBJECTIVE, namespace: NS, name: 'batch' }, (o) => ((o.spec as { priority: number }).priority = -6));
    await until(() => ((get(OBJECTIVE, 'batch').status as { conditions: Cond[] }).conditions[0]!.observedGeneration === 2), 'the status at generation 2');
    expect(gw.routing.writer.stats.conflicts - conflicts).toBe(2);
    const puts = api.writes.filter((w) => w.path.endsWith('/inferenceobjectives/batch/status'));
    expect(puts.slice(-3).map((w) => w.code)).toEqual([409, 409, 200]);
    // Every status write named the version it read.
    expect(puts.every((w) => typeof (w.body as KubeObject).metadata.resourceVersion === 'string')).toBe(true);
  });
});
