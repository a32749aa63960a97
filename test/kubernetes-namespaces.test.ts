/**
 * What the Gateway API decides across namespaces, with --kubernetes against
 * the (fake) API server: a backendRef to a pool in another namespace needs a
 * ReferenceGrant there (Gateway API ReferenceGrant, gateway.networking.k8s.io/v1beta1),
 * and a listener's `allowedRoutes.namespaces.from: Selector` matches the
 * route's namespace by the labels of its Namespace object — both read from
 * the cluster, as `infergate apply -f` reads them from the file. A gateway
 * that may not list Namespaces (a single-namespace install: a Role cannot
 * grant them) still starts and matches on `kubernetes.io/metadata.name`.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startFakeKubeApiServer, type FakeKubeApiServer, type KubeObject } from './fixtures/kube-apiserver/index.ts';
import { POOL, ROUTE, startGatewayOn, until } from './kubernetes-helpers.ts';
import type { KubernetesGateway } from '../src/runtime/node/kubernetes-gateway.ts';

type Cond = { type: string; status: string; reason: string; message: string };
type Parents = { parents?: { parentRef: Record<string, string>; conditions: Cond[] }[] };
const GRANT = { apiVersion: 'gateway.networking.k8s.io/v1beta1', kind: 'ReferenceGrant' } as const;
const GATEWAY = { apiVersion: 'gateway.networking.k8s.io/v1', kind: 'Gateway' } as const;
const NAMESPACE = { apiVersion: 'v1', kind: 'Namespace' } as const;

const pool = (namespace: string): KubeObject => ({ ...POOL, metadata: { name: 'p', namespace }, spec: { selector: { matchLabels: { app: 'p' } }, targetPorts: [{ number: 8000 }] } });
const route = (namespace: string, backend: Record<string, string>, parentRefs?: unknown[]): KubeObject => ({
  ...ROUTE,
  metadata: { name: 'r', namespace },
  spec: { ...(parentRefs ? { parentRefs } : {}), rules: [{ backendRefs: [{ group: 'inference.networking.k8s.io', kind: 'InferencePool', ...backend }] }] },
});
const grant = (from: string): KubeObject => ({ ...GRANT, metadata: { name: 'g', namespace: 'models' }, spec: { from: [{ group: 'gateway.networking.k8s.io', kind: 'HTTPRoute', namespace: from }], to: [{ group: 'inference.networking.k8s.io', kind: 'InferencePool' }] } });
const selectorGateway = (name: string, matchLabels: Record<string, string>): KubeObject => ({
  ...GATEWAY,
  metadata: { name, namespace: 'infra' },
  spec: { gatewayClassName: 'infergate', listeners: [{ name: 'http', protocol: 'HTTP', port: 80, allowedRoutes: { namespaces: { from: 'Selector', selector: { matchLabels } } } }] },
});

describe('gateway --kubernetes across namespaces', () => {
  let api: FakeKubeApiServer;
  let gw: KubernetesGateway | undefined;
  const condition = (type: string) => {
    const parents = (api.get({ ...ROUTE, namespace: 'apps', name: 'r' })?.status as Parents | undefined)?.parents ?? [];
    return parents[0]?.conditions.find((c) => c.type === type);
  };
  const reason = (type: string) => {
    const c = condition(type);
    return c && `${c.status}/${c.reason}`;
  };

  beforeEach(async () => {
    api = await startFakeKubeApiServer({ bookmarkIntervalMs: 200 });
  });
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
    await api.close();
  });

  it('an HTTPRoute to an InferencePool in another namespace resolves with a ReferenceGrant there, and only with it', async () => {
    api.create(pool('models'));
    api.create(route('apps', { name: 'p', namespace: 'models' }));
    api.create(grant('apps'));
    gw = await startGatewayOn(api, { namespace: undefined });
    await until(() => reason('ResolvedRefs') === 'True/ResolvedRefs', 'the route resolved through the ReferenceGrant');
    expect(gw.store.current!.pools.has('models/p')).toBe(true);

    // The grant withdrawn: the ref is not permitted any more (a watched change, not only the first list).
    api.remove({ ...GRANT, namespace: 'models', name: 'g' });
    await until(() => reason('ResolvedRefs') === 'False/RefNotPermitted', 'RefNotPermitted without the grant');
    expect(condition('ResolvedRefs')!.message).toMatch(/a ReferenceGrant there must allow HTTPRoutes of "apps"/);

    // A grant for another namespace's routes does not do.
    api.create(grant('elsewhere'));
    await new Promise((r) => setTimeout(r, 200));
    expect(reason('ResolvedRefs')).toBe('False/RefNotPermitted');
    // ReferenceGrant has no status: nothing is written to it.
    expect(api.writes.filter((w) => w.path.includes('/referencegrants/'))).toEqual([]);
  });

  it("a listener's allowedRoutes Selector matches the route's namespace by its labels, followed as they change", async () => {
    api.create({ ...NAMESPACE, metadata: { name: 'apps', labels: { 'shared-gateway-access': 'true' } } });
    api.create(selectorGateway('gw', { 'shared-gateway-access': 'true' }));
    api.create(pool('apps'));
    api.create(route('apps', { name: 'p' }, [{ name: 'gw', namespace: 'infra' }]));
    gw = await startGatewayOn(api, { namespace: undefined, gatewayClass: 'infergate' });
    await until(() => reason('Accepted') === 'True/Accepted', 'the route accepted by the listener');

    api.modify({ ...NAMESPACE, name: 'apps' }, (o) => (o.metadata.labels = { team: 'ml' }));
    await until(() => reason('Accepted') === 'False/NotAllowedByListeners', 'refused once the label is gone');
    expect(condition('Accepted')!.message).toMatch(/namespace "apps" does not match allowedRoutes\.namespaces\.selector/);
  });

  it('may not list Namespaces (403, a Role-only install): starts anyway, and kubernetes.io/metadata.name still matches', async () => {
    api.fail({ method: 'GET', path: /^\/api\/v1\/namespaces$/, code: 403, times: Infinity });
    api.create({ ...NAMESPACE, metadata: { name: 'apps', labels: { 'shared-gateway-access': 'true' } } });
    api.create(selectorGateway('by-name', { 'kubernetes.io/metadata.name': 'apps' }));
    api.create(pool('apps'));
    api.create(route('apps', { name: 'p' }, [{ name: 'by-name', namespace: 'infra' }]));
    gw = await startGatewayOn(api, { namespace: undefined, gatewayClass: 'infergate', waitMs: 3000 });
    expect(gw.routing.source.problem).toBeUndefined();
    await until(() => reason('Accepted') === 'True/Accepted', 'the route accepted on the name label');
    expect(gw.store.current!.pools.has('apps/p')).toBe(true);

    // Labels it cannot read do not match (what the docs say of --namespace installs).
    api.remove({ ...GATEWAY, namespace: 'infra', name: 'by-name' });
    api.create(selectorGateway('by-name', { 'shared-gateway-access': 'true' }));
    await until(() => reason('Accepted') === 'False/NotAllowedByListeners', 'refused: the label is not known');
  });
});
