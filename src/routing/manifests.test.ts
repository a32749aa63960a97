import { describe, expect, it } from 'vitest';
import { readFileSync } from 'node:fs';
import { importManifests } from './manifests.ts';
import { validateTable } from './validate.ts';

const example = (name: string) => readFileSync(new URL(`../../examples/${name}`, import.meta.url), 'utf8');

describe('the seed manifests as published', () => {
  const result = importManifests(example('seed-as-published.yaml'));
  const problems = [...result.errors, ...result.warnings];
  const status = (kind: string, name: string) => result.objects.find((o) => o.kind === kind && o.name === name)!;

  it('reports the selector that sits under metadata instead of spec', () => {
    const p = problems.find((x) => x.object === 'InferencePool/gemma3' && x.message.includes('metadata.modelServerSelector'));
    expect(p?.message).toContain('spec.selector');
  });

  it('reports the apiVersion this gateway does not know', () => {
    const p = problems.find((x) => x.object === 'InferencePool/gemma3' && x.path === 'apiVersion');
    expect(p?.message).toContain('gateway.networking.x-k8s.io/v1alpha1');
    expect(status('InferencePool', 'gemma3').conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'False', reason: 'UnsupportedVersion' }));
  });

  it('accepts one of the two InferenceModels claiming the same modelName, and says why not the other', () => {
    const p = problems.find((x) => x.object === 'InferenceModel/spanish-bot');
    expect(p?.message).toContain('google/gemma-3-4b-it');
    expect(p?.message).toContain('english-bot');
    expect(status('InferenceModel', 'spanish-bot').conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'False', reason: 'ModelNameInUse' }));
    expect(status('InferenceModel', 'english-bot').conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True' }));
  });

  it('gives every object a status, and does not hide the rest', () => {
    expect(result.objects.map((o) => o.kind)).toEqual(['HTTPRoute', 'InferencePool', 'InferenceModel', 'InferenceModel', 'Gateway', 'HTTPRoute']);
    expect(result.errors.some((e) => e.object === 'HTTPRoute/routes-to-llms' && e.path === 'spec.rules[0].matches')).toBe(true);
  });
});

describe('the seed use cases (valid)', () => {
  it('import with every object accepted and resolved, into a valid table', () => {
    const result = importManifests(example('seed-use-cases.yaml'));
    expect(result.errors).toEqual([]);
    expect(result.warnings).toEqual([]);
    for (const o of result.objects) for (const c of o.conditions) expect(c.status, `${o.kind}/${o.name} ${c.type}`).toBe('True');
    const table = validateTable(result.table);
    expect(table.ok).toBe(true);
    if (table.ok) {
      expect(table.table.models.map((m) => m.name).sort()).toEqual(['chatbot', 'english-bot', 'recommender', 'spanish-bot']);
      expect(table.table.pools.find((p) => p.name === 'gemma3')).toMatchObject({ selector: { pool: 'gemma3' }, targetPorts: [8000], failureMode: 'FailOpen' });
    }
  });
});

describe('Kubernetes rules', () => {
  const pool = `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata: { name: p }
spec: { selector: { app: vllm }, targetPortNumber: 8000 }
`;
  const model = (name: string, ts?: string) => `---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: ${name}${ts ? `, creationTimestamp: "${ts}"` : ''} }
spec: { modelName: shared, poolRef: { name: p } }
`;

  it('the older InferenceModel wins a modelName conflict, by creationTimestamp', () => {
    const r = importManifests(pool + model('newer', '2025-02-01T00:00:00Z') + model('older', '2025-01-01T00:00:00Z'));
    expect(r.warnings).toHaveLength(1);
    expect(r.warnings[0]!.object).toBe('InferenceModel/newer');
    expect(r.table.models).toHaveLength(1);
  });

  it('without timestamps, the earlier document wins', () => {
    const r = importManifests(pool + model('first') + model('second'));
    expect(r.warnings[0]!.object).toBe('InferenceModel/second');
  });

  it('an InferenceModel naming a missing pool is not resolved', () => {
    const r = importManifests(model('lost'));
    expect(r.errors).toEqual([expect.objectContaining({ object: 'InferenceModel/lost', path: 'spec.poolRef.name' })]);
    expect(r.objects[0]!.conditions).toContainEqual(expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'PoolNotFound' }));
  });

  it('a backendRef to a missing pool is not resolved, with the field path', () => {
    const r = importManifests(`apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - backendRefs: [{ name: ghost, kind: InferencePool }]
`);
    expect(r.errors).toEqual([expect.objectContaining({ object: 'HTTPRoute/r', path: 'spec.rules[0].backendRefs[0].name' })]);
  });

  // Issue 13 changed this: Kubernetes' own kinds beside the routing objects (a ConfigMap here) are listed as ignored, not refused.
  it("Kubernetes' own kinds are listed as ignored; an unknown kind of an unknown group is reported, not skipped", () => {
    const ignored = importManifests(`apiVersion: v1\nkind: ConfigMap\nmetadata: { name: c }\n`);
    expect(ignored.errors).toEqual([]);
    expect(ignored.objects[0]).toMatchObject({ kind: 'ConfigMap', ignored: 'not a routing object', conditions: [] });
    const r = importManifests(`apiVersion: example.com/v1\nkind: Mystery\nmetadata: { name: c }\n`);
    expect(r.errors[0]).toMatchObject({ object: 'Mystery/c', path: 'kind' });
    expect(r.objects[0]!.conditions[0]).toMatchObject({ type: 'Accepted', status: 'False', reason: 'UnsupportedKind' });
  });

  it('a negative weight names its field', () => {
    const r = importManifests(pool + `---
apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: r }
spec:
  rules:
  - backendRefs: [{ name: p, kind: InferencePool, weight: -3 }]
`);
    expect(r.errors[0]).toMatchObject({ object: 'HTTPRoute/r', path: 'spec.rules[0].backendRefs[0].weight' });
  });

  it('reads both InferencePool versions', () => {
    const r = importManifests(`apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: v1pool, annotations: { infergate.dev/scheduling-profile: fast } }
spec:
  selector: { matchLabels: { app: a } }
  targetPorts: [{ number: 8000 }, { number: 8001 }]
  appProtocol: kubernetes.io/h2c
  endpointPickerRef: { name: epp, failureMode: FailOpen }
---
${pool}`);
    expect(r.errors).toEqual([]);
    expect(r.table.pools).toEqual([
      { name: 'v1pool', selector: { app: 'a' }, targetPorts: [8000, 8001], appProtocol: 'h2c', failureMode: 'FailOpen', profile: 'fast' },
      { name: 'p', selector: { app: 'vllm' }, targetPorts: [8000], failureMode: 'FailClose', profile: undefined },
    ]);
  });

  it('invalid YAML is a problem, not a crash', () => {
    const r = importManifests('kind: [unclosed');
    expect(r.errors).toHaveLength(1);
  });
});
