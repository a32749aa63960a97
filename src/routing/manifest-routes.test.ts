import { describe, expect, it } from 'vitest';
import { importManifests } from './manifests.ts';

const gateway = (listeners: string, ns = 'infra') => `apiVersion: gateway.networking.k8s.io/v1
kind: Gateway
metadata: { name: gw, namespace: ${ns} }
spec:
  gatewayClassName: infergate
  listeners:
${listeners}
---
`;
const pool = (ns = 'app', name = 'p') => `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: ${name}, namespace: ${ns} }
spec: { selector: { matchLabels: { app: x } }, targetPorts: [{ number: 8000 }] }
---
`;
const route = (spec: string, ns = 'app') => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r, namespace: ${ns} }
spec:
${spec}
---
`;
const toPool = '  rules: [{ backendRefs: [{ kind: InferencePool, name: p }] }]';
const statusOf = (text: string, kind: string, name = 'r') => importManifests(text).objects.find((o) => o.kind === kind && o.name === name)!;

describe('HTTPRoute parentRefs against Gateways and listeners', () => {
  it('attaches across namespaces when the listener allows routes from All, with hostname intersection', () => {
    const text = gateway('  - { name: http, port: 80, protocol: HTTP, hostname: "*.example.com", allowedRoutes: { namespaces: { from: All } } }') + pool() + route(`  parentRefs: [{ name: gw, namespace: infra, sectionName: http }]\n  hostnames: [a.example.com, other.org]\n${toPool}`);
    const r = importManifests(text);
    expect(r.errors).toEqual([]);
    expect(r.table.routes).toEqual([expect.objectContaining({ name: 'app/r', hostnames: ['a.example.com'] })]);
    expect(statusOf(text, 'HTTPRoute').parents).toEqual([
      { parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'gw', sectionName: 'http' }, controllerName: 'infergate.dev/gateway-controller', conditions: [expect.objectContaining({ type: 'Accepted', status: 'True' }), expect.objectContaining({ type: 'ResolvedRefs', status: 'True' })] },
    ]);
    expect(statusOf(text, 'InferencePool', 'p').parents).toEqual([expect.objectContaining({ parentRef: { group: 'gateway.networking.k8s.io', kind: 'Gateway', namespace: 'infra', name: 'gw' } })]);
  });

  it.each([
    ['the default allowedRoutes (Same) refuses another namespace', '  - { name: http, port: 80, protocol: HTTP }', '[{ name: gw, namespace: infra }]', 'NotAllowedByListeners'],
    ['no listener of that sectionName', '  - { name: http, port: 80, protocol: HTTP, allowedRoutes: { namespaces: { from: All } } }', '[{ name: gw, namespace: infra, sectionName: https }]', 'NoMatchingParent'],
    ['no hostname in common', '  - { name: http, port: 80, protocol: HTTP, hostname: b.example.com, allowedRoutes: { namespaces: { from: All } } }', '[{ name: gw, namespace: infra }]\n  hostnames: [a.example.com]', 'NoMatchingListenerHostname'],
    ['a TCP listener', '  - { name: tcp, port: 80, protocol: TCP, allowedRoutes: { namespaces: { from: All } } }', '[{ name: gw, namespace: infra }]', 'NotAllowedByListeners'],
  ])('%s: not attached (%s), reported, not served', (_, listeners, parentRefs, reason) => {
    const text = gateway(listeners) + pool() + route(`  parentRefs: ${parentRefs}\n${toPool}`);
    const r = importManifests(text);
    expect(r.errors).toEqual([]);
    expect(r.table.routes).toEqual([]);
    expect(r.warnings.map((w) => w.object)).toContain('HTTPRoute/r');
    expect(statusOf(text, 'HTTPRoute').conditions[0]).toMatchObject({ type: 'Accepted', status: 'False', reason });
  });

  it('allowedRoutes selectors match the labels of the Namespaces in the file', () => {
    const ns = `apiVersion: v1\nkind: Namespace\nmetadata: { name: app, labels: { team: ml } }\n---\n`;
    const listeners = '  - { name: http, protocol: HTTP, allowedRoutes: { namespaces: { from: Selector, selector: { matchLabels: { team: ml } } } } }';
    expect(importManifests(ns + gateway(listeners) + pool() + route(`  parentRefs: [{ name: gw, namespace: infra }]\n${toPool}`)).table.routes).toHaveLength(1);
    expect(importManifests(gateway(listeners) + pool() + route(`  parentRefs: [{ name: gw, namespace: infra }]\n${toPool}`)).table.routes).toHaveLength(0);
  });

  it('a Gateway that is not in the file is taken to be this gateway, and says so', () => {
    const text = pool() + route(`  parentRefs: [{ name: elsewhere }]\n${toPool}`);
    const r = importManifests(text);
    expect(r.table.routes).toHaveLength(1);
    expect(statusOf(text, 'HTTPRoute').conditions[0]!.message).toContain('not among the applied objects');
  });

  it('a backendRef to another namespace needs a ReferenceGrant there', () => {
    const cross = pool('models') + route(`  rules: [{ backendRefs: [{ kind: InferencePool, name: p, namespace: models }] }]`);
    const refused = importManifests(cross);
    expect(refused.errors).toEqual([expect.objectContaining({ object: 'HTTPRoute/r', path: 'spec.rules[0].backendRefs[0].namespace' })]);
    expect(refused.objects.find((o) => o.kind === 'HTTPRoute')!.conditions).toContainEqual(expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'RefNotPermitted' }));
    const grant = `apiVersion: gateway.networking.k8s.io/v1beta1
kind: ReferenceGrant
metadata: { name: g, namespace: models }
spec:
  from: [{ group: gateway.networking.k8s.io, kind: HTTPRoute, namespace: app }]
  to: [{ group: inference.networking.k8s.io, kind: InferencePool }]
---
`;
    const granted = importManifests(grant + cross);
    expect(granted.errors).toEqual([]);
    expect(granted.table.routes![0]!.rules[0]!.backendRefs).toEqual([{ pool: 'models/p', weight: 1 }]);
  });

  it('reads method and query-param matches and timeouts.request; refuses filters', () => {
    const ok = importManifests(pool('default') + route(`  rules:\n  - matches: [{ method: GET, queryParams: [{ name: v, value: "2" }] }]\n    timeouts: { request: 1m30s }\n    backendRefs: [{ kind: InferencePool, name: p }]`, 'default'));
    expect(ok.errors).toEqual([]);
    expect(ok.table.routes![0]!.rules[0]).toMatchObject({ requestTimeoutMs: 90_000, matches: [{ method: 'GET', queryParams: [{ type: 'Exact', name: 'v', value: '2' }] }] });
    const filtered = importManifests(pool('default') + route(`  rules:\n  - filters: [{ type: RequestHeaderModifier }]\n    backendRefs: [{ kind: InferencePool, name: p }]`, 'default'));
    expect(filtered.errors).toEqual([expect.objectContaining({ path: 'spec.rules[0].filters', message: expect.stringContaining('RequestHeaderModifier') })]);
  });
});

describe("a user's file as a whole", () => {
  it('lists Kubernetes objects as ignored, reports duplicates, warns about unknown fields', () => {
    const text = `apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: vllm }\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: { name: r }\n---\n${pool('default')}${pool('default')}${route(`  rules: [{ backendRefs: [{ kind: InferencePool, name: p }], retry: { attempts: 3 } }]\n  spec2: true`, 'default')}`;
    const r = importManifests(text);
    expect(r.errors).toEqual([]);
    expect(r.objects.filter((o) => o.ignored).map((o) => o.kind)).toEqual(['Deployment', 'Role']);
    expect(r.warnings).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ object: 'InferencePool/p', message: expect.stringContaining('defined twice') }),
        expect.objectContaining({ object: 'HTTPRoute/r', path: 'spec.spec2', message: expect.stringContaining('is not a field of HTTPRoute') }),
        expect.objectContaining({ object: 'HTTPRoute/r', path: 'spec.rules[0].retry', message: expect.stringContaining('not supported') }),
      ]),
    );
    const routeStatus = r.objects.find((o) => o.kind === 'HTTPRoute')!;
    expect(routeStatus.conditions[0]!.message).toContain('spec.spec2');
  });

  it('an InferenceModel says what replaces it; criticality on an objective is mapped to priority with a warning', () => {
    const text = `${pool('default')}apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: m }
spec: { modelName: m, criticality: Sheddable, poolRef: { name: p } }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceObjective
metadata: { name: o }
spec: { criticality: Critical, poolRef: { name: p } }
`;
    const r = importManifests(text);
    expect(r.errors).toEqual([]);
    expect(r.objects.find((o) => o.kind === 'InferenceModel')!.conditions[0]!.message).toMatch(/InferenceObjective .* and InferenceModelRewrite .* replace it; criticality Sheddable is read as priority -1/);
    expect(r.table.objectives).toEqual([{ name: 'o', pool: 'p', priority: 1 }]);
    expect(r.warnings).toContainEqual(expect.objectContaining({ object: 'InferenceObjective/o', path: 'spec.criticality' }));
  });

  it('objectives reach pools by poolRefs or poolSelector in their namespace', () => {
    const labelled = (name: string, tier: string) => pool('ns', name).replace('metadata: {', `metadata: { labels: { tier: ${tier} },`);
    const text = `${labelled('p1', 'gold')}${labelled('p2', 'gold')}${labelled('p3', 'tin')}apiVersion: llm-d.ai/v1alpha2
kind: InferenceObjective
metadata: { name: gold, namespace: ns }
spec: { priority: 5, poolSelector: { matchLabels: { tier: gold } } }
---
apiVersion: llm-d.ai/v1alpha2
kind: InferenceObjective
metadata: { name: two, namespace: ns }
spec: { poolRefs: [{ name: p1 }, { name: p3 }] }
`;
    const r = importManifests(text);
    expect(r.errors).toEqual([]);
    expect(r.table.objectives).toEqual([
      { name: 'gold', pool: 'ns/p1', priority: 5 },
      { name: 'gold', pool: 'ns/p2', priority: 5 },
      { name: 'two', pool: 'ns/p1', priority: 0 },
      { name: 'two', pool: 'ns/p3', priority: 0 },
    ]);
  });

  it('an InferenceModelRewrite sets weights on all targets or none', () => {
    const r = importManifests(`${pool('default')}apiVersion: llm-d.ai/v1alpha2
kind: InferenceModelRewrite
metadata: { name: w }
spec:
  poolRef: { name: p }
  rules: [{ matches: [{ model: { value: a } }], targets: [{ modelRewrite: a1, weight: 10 }, { modelRewrite: a2 }] }]
`);
    expect(r.errors).toEqual([expect.objectContaining({ object: 'InferenceModelRewrite/w', path: 'spec.rules[0].targets' })]);
  });
});
