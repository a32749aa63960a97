/**
 * The fake API server (test/fixtures/kube-apiserver/) driven by the real
 * client library, @kubernetes/client-node: informers list and watch, 410
 * makes them relist, status is a subresource with optimistic concurrency,
 * generation follows spec, pods terminate gracefully, leases conflict.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CoordinationV1Api, CoreV1Api, CustomObjectsApi, KubeConfig, makeInformer, PatchStrategy, setHeaderOptions, V1MicroTime, Watch, type V1Pod } from '@kubernetes/client-node';
import { startFakeKubeApiServer, type FakeKubeApiServer } from './fixtures/kube-apiserver/index.ts';

const POD = { apiVersion: 'v1', kind: 'Pod' };
const POOL = { apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool' };

function pod(name: string, labels: Record<string, string>, ip: string) {
  return { ...POD, metadata: { name, namespace: 'default', labels }, spec: { containers: [{ name: 'vllm', image: 'vllm' }] }, status: { podIP: ip, conditions: [{ type: 'Ready', status: 'True' }] } };
}

async function until(check: () => boolean, what: string, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

describe('fake Kubernetes API server with @kubernetes/client-node', () => {
  let api: FakeKubeApiServer;
  let kc: KubeConfig;
  beforeEach(async () => {
    api = await startFakeKubeApiServer({ bookmarkIntervalMs: 60_000 });
    kc = new KubeConfig();
    kc.loadFromString(api.kubeconfig());
  });
  afterEach(async () => api.close());

  it('an informer lists, then follows ADDED/MODIFIED/DELETED within its label selector', async () => {
    api.create(pod('a', { pool: 'p' }, '10.0.0.1'));
    api.create(pod('other', { pool: 'q' }, '10.0.0.9'));
    const core = kc.makeApiClient(CoreV1Api);
    const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () => core.listNamespacedPod({ namespace: 'default', labelSelector: 'pool=p' }), 'pool=p');
    const seen: string[] = [];
    informer.on('add', (p: V1Pod) => seen.push(`add ${p.metadata!.name}`));
    informer.on('update', (p: V1Pod) => seen.push(`update ${p.metadata!.name}`));
    informer.on('delete', (p: V1Pod) => seen.push(`delete ${p.metadata!.name}`));
    await informer.start();
    expect(seen).toEqual(['add a']);
    await until(() => api.openWatches('Pod') === 1, 'the watch');

    api.create(pod('b', { pool: 'p' }, '10.0.0.2'));
    api.modify({ ...POD, namespace: 'default', name: 'a' }, (o) => ((o.status as { podIP: string }).podIP = '10.0.0.3'));
    api.modify({ ...POD, namespace: 'default', name: 'b' }, (o) => (o.metadata.labels = { pool: 'q' })); // leaves the selector
    api.modify({ ...POD, namespace: 'default', name: 'other' }, (o) => (o.metadata.labels = { pool: 'p' })); // enters it
    await until(() => seen.length === 5, 'five events');
    expect(seen).toEqual(['add a', 'add b', 'update a', 'delete b', 'add other']);
    expect(informer.list('default').map((p) => p.metadata!.name).sort()).toEqual(['a', 'other']);
    await informer.stop();
  });

  it('a watch from a compacted version gets ERROR 410 in-stream; the informer relists and loses nothing', async () => {
    api.create(pod('a', { pool: 'p' }, '10.0.0.1'));
    const core = kc.makeApiClient(CoreV1Api);
    let lists = 0;
    const informer = makeInformer(kc, '/api/v1/namespaces/default/pods', () => (lists++, core.listNamespacedPod({ namespace: 'default' })));
    const names = () => informer.list('default').map((p) => `${p.metadata!.name}=${p.status?.podIP}`).sort();
    await informer.start();
    await until(() => api.openWatches('Pod') === 1, 'the watch');

    // Changes the watch delivers, then the history is compacted and every watch expired.
    api.create(pod('b', { pool: 'p' }, '10.0.0.2'));
    api.compact({ expireWatches: true });
    // Changes while the informer is between watches: only the relist can bring them.
    api.remove({ ...POD, namespace: 'default', name: 'a' }, { gracePeriodSeconds: 0 });
    api.create(pod('c', { pool: 'p' }, '10.0.0.3'));
    await until(() => lists === 2 && names().join() === 'b=10.0.0.2,c=10.0.0.3', 'the relist');

    // A dropped watch resumes from the last version it saw; when writes to other kinds moved the
    // revision on and the history was compacted, that is 410 in-stream, then a relist.
    await until(() => api.openWatches('Pod') === 1, 'the new watch');
    api.create({ apiVersion: 'coordination.k8s.io/v1', kind: 'Lease', metadata: { name: 'l', namespace: 'default' }, spec: {} });
    api.compact();
    api.dropWatches();
    await until(() => lists === 3, 'a third list');
    const raw: { type: string; code?: number }[] = [];
    await new Watch(kc).watch('/api/v1/namespaces/default/pods', { resourceVersion: '1' }, (type, obj) => raw.push({ type, code: (obj as { code?: number }).code }), () => {});
    await until(() => raw.length === 1, 'the ERROR event');
    expect(raw).toEqual([{ type: 'ERROR', code: 410 }]);
    await informer.stop();
  });

  it('bookmarks: only when asked for, carrying only the resourceVersion', async () => {
    const events: { type: string; object: Record<string, unknown> }[] = [];
    const watch = new Watch(kc);
    const controller = await watch.watch('/api/v1/pods', { allowWatchBookmarks: true, resourceVersion: String(api.revision) }, (type, object) => events.push({ type, object }), () => {});
    await until(() => api.openWatches() === 1, 'the watch');
    api.create(pod('a', {}, '10.0.0.1'));
    api.bookmarkNow();
    await until(() => events.length === 2, 'an event and a bookmark');
    expect(events[1]).toEqual({ type: 'BOOKMARK', object: { kind: 'Pod', apiVersion: 'v1', metadata: { resourceVersion: String(api.revision) } } });
    controller.abort();
  });

  it('status is a subresource: merge patch and PUT with resourceVersion conflicts; generation follows spec only', async () => {
    const created = api.create({ ...POOL, metadata: { name: 'pool', namespace: 'default' }, spec: { selector: { matchLabels: { app: 'x' } }, targetPorts: [{ number: 8000 }] } });
    expect(created.metadata.generation).toBe(1);
    const custom = kc.makeApiClient(CustomObjectsApi);
    const ref = { group: 'inference.networking.k8s.io', version: 'v1', namespace: 'default', plural: 'inferencepools', name: 'pool' };
    const status = { parents: [{ parentRef: { kind: 'Status', name: 'default' }, conditions: [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: '', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' }] }] };
    const patched = (await custom.patchNamespacedCustomObjectStatus({ ...ref, body: { status } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch))) as { metadata: { generation: number; resourceVersion: string }; status: unknown };
    expect(patched.status).toEqual(status);
    expect(patched.metadata.generation).toBe(1);
    expect(api.writes.at(-1)).toMatchObject({ method: 'PATCH', path: '/apis/inference.networking.k8s.io/v1/namespaces/default/inferencepools/pool/status', contentType: 'application/merge-patch+json', code: 200 });

    // A spec change (someone else's) bumps generation; a PUT of status from the old version conflicts.
    api.modify({ ...POOL, namespace: 'default', name: 'pool' }, (o) => ((o.spec as { targetPorts: unknown[] }).targetPorts = [{ number: 8001 }]));
    expect(api.get({ ...POOL, namespace: 'default', name: 'pool' })!.metadata.generation).toBe(2);
    const stale = { ...POOL, metadata: { name: 'pool', namespace: 'default', resourceVersion: patched.metadata.resourceVersion }, status: { parents: [] } };
    await expect(custom.replaceNamespacedCustomObjectStatus({ ...ref, body: stale })).rejects.toMatchObject({ code: 409 });
    expect(api.writes.at(-1)).toMatchObject({ method: 'PUT', code: 409 });

    // A status PUT cannot change spec, a main-resource PUT cannot change status.
    const fresh = api.get({ ...POOL, namespace: 'default', name: 'pool' })!;
    await custom.replaceNamespacedCustomObjectStatus({ ...ref, body: { ...fresh, spec: { selector: { matchLabels: {} }, targetPorts: [] }, status: { parents: [] } } });
    const after = api.get({ ...POOL, namespace: 'default', name: 'pool' })!;
    expect(after.spec).toEqual(fresh.spec);
    expect(after.status).toEqual({ parents: [] });
    expect(after.metadata.generation).toBe(2);
    // Strategic merge patch is not accepted for custom resources.
    await expect(custom.patchNamespacedCustomObjectStatus({ ...ref, body: { status } }, setHeaderOptions('Content-Type', PatchStrategy.StrategicMergePatch))).rejects.toMatchObject({ code: 415 });
  });

  it('deleting a pod with a grace period marks it terminating first', async () => {
    api.create(pod('a', { pool: 'p' }, '10.0.0.1'));
    const core = kc.makeApiClient(CoreV1Api);
    await core.deleteNamespacedPod({ namespace: 'default', name: 'a', gracePeriodSeconds: 30 });
    const terminating = await core.readNamespacedPod({ namespace: 'default', name: 'a' });
    expect(terminating.metadata!.deletionTimestamp).toBeInstanceOf(Date);
    expect(terminating.metadata!.deletionGracePeriodSeconds).toBe(30);
    api.finishDeletion({ ...POD, namespace: 'default', name: 'a' });
    await expect(core.readNamespacedPod({ namespace: 'default', name: 'a' })).rejects.toMatchObject({ code: 404 });
  });

  it('leases: create once (409 AlreadyExists after), replace with the read version (409 Conflict with a stale one)', async () => {
    const coordination = kc.makeApiClient(CoordinationV1Api);
    const body = { metadata: { name: 'infergate', namespace: 'default' }, spec: { holderIdentity: 'a', leaseDurationSeconds: 15, acquireTime: new V1MicroTime(), renewTime: new V1MicroTime(), leaseTransitions: 0 } };
    const lease = await coordination.createNamespacedLease({ namespace: 'default', body });
    expect(lease.spec!.holderIdentity).toBe('a');
    expect(api.writes.at(-1)!.body).toMatchObject({ spec: { renewTime: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/) } });
    await expect(coordination.createNamespacedLease({ namespace: 'default', body })).rejects.toMatchObject({ code: 409 });
    const renewed = await coordination.replaceNamespacedLease({ namespace: 'default', name: 'infergate', body: { ...lease, spec: { ...lease.spec, renewTime: new V1MicroTime() } } });
    await expect(coordination.replaceNamespacedLease({ namespace: 'default', name: 'infergate', body: { ...lease, spec: { ...lease.spec, holderIdentity: 'b' } } })).rejects.toMatchObject({ code: 409 });
    expect((await coordination.readNamespacedLease({ namespace: 'default', name: 'infergate' })).metadata!.resourceVersion).toBe(renewed.metadata!.resourceVersion);
  });
});
