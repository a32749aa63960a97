/**
 * Gateway API HTTPRouteRule.backendRefs: the requests a rule would send to a
 * backendRef that does not resolve, or to none (every weight 0, no
 * backendRefs), are answered 500 — they never fall through to another route.
 * And InferencePools of the two API groups are two pools.
 */
import { describe, expect, it } from 'vitest';
import { compileTable } from './compile.ts';
import { importManifests } from './manifests.ts';
import { resolveRequest } from './resolve.ts';
import { validateTable } from './validate.ts';
import type { GatewayError } from '../api/errors.ts';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { RoutingTableSchema } from '../gen/infergate/v1/routing_pb.ts';
import { tableFromWire, tableToWire } from '../control/table-wire.ts';

const v1Pool = (name: string, labels = `pool: ${name}`) => `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: ${name} }
spec: { selector: { matchLabels: { ${labels} } }, targetPorts: [{ number: 8000 }] }
---
`;
const alphaPool = (name: string) => `apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferencePool
metadata: { name: ${name} }
spec: { selector: { pool: ${name}-alpha }, targetPortNumber: 8000 }
---
`;
const route = (name: string, rules: string) => `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: ${name} }
spec:
  rules:
${rules}
---
`;
const ref = (name: string, extra = '') => `{ group: inference.networking.k8s.io, kind: InferencePool, name: ${name}${extra} }`;
const catchAll = route('catch-all', `  - backendRefs: [${ref('gemma3')}]`);

/** The table as the import builds it, compiled (valid even where the file has errors: the cluster source applies it so). */
function compiled(text: string) {
  const v = validateTable(importManifests(text).table);
  if (!v.ok) throw new Error(JSON.stringify(v.problems));
  return compileTable(v.table);
}
let seed = 11;
const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
const headers = { get: () => null, forEach: () => {} };
function answer(table: ReturnType<typeof compiled>, path: string): string {
  try {
    return resolveRequest(table, path, headers, 'm', random).pool.name;
  } catch (err) {
    const e = err as GatewayError;
    return `${e.status} ${e.code}: ${e.message}`;
  }
}

describe('a rule whose backendRefs all have weight 0 (drained)', () => {
  const text = v1Pool('gemma3') + v1Pool('deepseek-r1') + catchAll + route('drained', `  - matches: [{ path: { value: /v1/completions } }]\n    backendRefs: [${ref('gemma3', ', weight: 0')}, ${ref('deepseek-r1', ', weight: 0')}]`);

  it('is a valid table; its requests get 500 saying what to do, the other routes serve', () => {
    expect(importManifests(text).errors).toEqual([]);
    const table = compiled(text);
    expect(answer(table, '/v1/completions')).toMatch(/^500 backend_refs_drained: Route "drained" \(rule 0\) .*every backendRef of the rule has weight 0.*weight above 0/);
    expect(answer(table, '/v1/chat/completions')).toBe('gemma3');
    // Beside a positive weight, a zero one still takes no traffic.
    const mixed = compiled(v1Pool('gemma3') + v1Pool('deepseek-r1') + route('r', `  - backendRefs: [${ref('gemma3', ', weight: 0')}, ${ref('deepseek-r1', ', weight: 3')}]`));
    for (let i = 0; i < 50; i++) expect(answer(mixed, '/v1/completions')).toBe('deepseek-r1');
  });
});

describe('backendRefs that do not resolve', () => {
  it('a route to a missing pool answers 500 naming the route and the ref, instead of the catch-all serving its requests', () => {
    const text = v1Pool('gemma3') + catchAll + route('to-missing', `  - matches: [{ path: { value: /v1/completions } }]\n    backendRefs: [${ref('non-existent-inference-pool')}]`);
    const imported = importManifests(text);
    // A file still refuses it (apply and --manifests); the table it would be is what the cluster source applies.
    expect(imported.errors).toEqual([expect.objectContaining({ object: 'HTTPRoute/to-missing', path: 'spec.rules[0].backendRefs[0].name' })]);
    const status = imported.objects.find((o) => o.name === 'to-missing')!;
    expect(status.conditions).toContainEqual(expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: expect.stringContaining('answered 500') }));
    const table = compiled(text);
    const got = answer(table, '/v1/completions');
    expect(got).toMatch(/^500 backend_ref_unresolved: Route "to-missing" \(rule 0\)/);
    expect(got).toContain('InferencePool "non-existent-inference-pool" does not exist');
    expect(answer(table, '/v1/chat/completions')).toBe('gemma3');
  });

  it('one invalid ref of two equal weights: about half the requests get 500, the rest reach the valid pool', () => {
    const table = compiled(v1Pool('gemma3') + route('split', `  - backendRefs: [${ref('gemma3')}, { kind: Service, name: svc, port: 80 }]`));
    const counts: Record<string, number> = {};
    for (let i = 0; i < 2000; i++) {
      const a = answer(table, '/v1/completions').split(':')[0]!;
      counts[a] = (counts[a] ?? 0) + 1;
    }
    expect(Object.keys(counts).sort()).toEqual(['500 backend_ref_unresolved', 'gemma3']);
    expect(counts['gemma3']! / 2000).toBeGreaterThan(0.44);
    expect(counts['gemma3']! / 2000).toBeLessThan(0.56);
  });

  it('cross the wire (RoutingService: table followers, workers, Workers) unchanged: the follower answers 500 too', () => {
    const text = v1Pool('gemma3') + catchAll + route('to-missing', `  - matches: [{ path: { value: /v1/completions } }]\n    backendRefs: [${ref('non-existent-inference-pool')}, ${ref('gemma3', ', weight: 0')}]`);
    const table = importManifests(text).table;
    const across = tableFromWire(fromBinary(RoutingTableSchema, toBinary(RoutingTableSchema, tableToWire(table))));
    expect(across.routes).toEqual(table.routes);
    const v = validateTable(across);
    if (!v.ok) throw new Error(JSON.stringify(v.problems));
    expect(answer(compileTable(v.table), '/v1/completions')).toMatch(/^500 backend_ref_unresolved: Route "to-missing"/);
  });

  it('a rule with no backendRefs answers 500 too (Gateway API), with a warning on import', () => {
    const text = v1Pool('gemma3') + catchAll + route('empty', `  - matches: [{ path: { value: /v1/completions } }]`);
    expect(importManifests(text).warnings).toContainEqual(expect.objectContaining({ object: 'HTTPRoute/empty', path: 'spec.rules[0].backendRefs' }));
    expect(answer(compiled(text), '/v1/completions')).toMatch(/^500 backend_ref_unresolved: Route "empty"/);
  });
});

describe('InferencePools of the two API groups with one name (the GA migration)', () => {
  const both = `${alphaPool('llama')}${v1Pool('llama')}`;
  const split = route('llm-route', `  - backendRefs:\n    - { group: inference.networking.x-k8s.io, kind: InferencePool, name: llama, weight: 50 }\n    - { group: inference.networking.k8s.io, kind: InferencePool, name: llama, weight: 50 }`);

  it('are two pools; the GA one keeps the plain name, the alpha one is qualified with its group; each backendRef reaches its group', () => {
    const r = importManifests(both + split);
    expect(r.errors).toEqual([]);
    expect(r.warnings).toEqual([]);
    expect(r.table.pools!.map((p) => [p.name, p.selector])).toEqual([
      ['llama@inference.networking.x-k8s.io', { pool: 'llama-alpha' }],
      ['llama', { pool: 'llama' }],
    ]);
    expect(r.table.routes![0]!.rules[0]!.backendRefs).toEqual([
      { pool: 'llama@inference.networking.x-k8s.io', weight: 50 },
      { pool: 'llama', weight: 50 },
    ]);
    expect(r.objects.filter((o) => o.kind === 'InferencePool').map((o) => o.conditions.map((c) => `${c.type}=${c.status}`))).toEqual([['Accepted=True'], ['Accepted=True']]);
  });

  it('poolRefs take their group, or the API default: GA for objectives and rewrites, x-k8s for InferenceModels', () => {
    const refs = `apiVersion: llm-d.ai/v1alpha2
kind: InferenceObjective
metadata: { name: to-default }
spec: { priority: 1, poolRef: { name: llama } }
---
apiVersion: llm-d.ai/v1alpha2
kind: InferenceObjective
metadata: { name: to-alpha }
spec: { priority: 2, poolRef: { name: llama, group: inference.networking.x-k8s.io } }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: bot }
spec: { modelName: bot, poolRef: { name: llama } }
`;
    const r = importManifests(both + split + refs);
    expect(r.errors).toEqual([]);
    expect(r.table.objectives!.map((o) => [o.name, o.pool])).toEqual([
      ['to-default', 'llama'],
      ['to-alpha', 'llama@inference.networking.x-k8s.io'],
    ]);
    expect(r.table.models!.map((m) => m.pool)).toEqual(['llama@inference.networking.x-k8s.io']);
    // One group per name: the pool of the name, whatever group the ref says (llm-d's poolRef defaults to "llm-d.ai").
    const solo = importManifests(`${alphaPool('solo')}apiVersion: llm-d.ai/v1alpha2\nkind: InferenceObjective\nmetadata: { name: o }\nspec: { poolRef: { name: solo, group: llm-d.ai } }\n`);
    expect(solo.table.objectives).toEqual([{ name: 'o', pool: 'solo', priority: 0 }]);
  });

  it('one group per name keeps the plain name; a backendRef naming the other group does not resolve, and says which exists', () => {
    const r = importManifests(v1Pool('llama') + route('r', `  - backendRefs: [{ group: inference.networking.x-k8s.io, kind: InferencePool, name: llama }]`));
    expect(r.table.pools!.map((p) => p.name)).toEqual(['llama']);
    expect(r.errors).toEqual([
      expect.objectContaining({ object: 'HTTPRoute/r', path: 'spec.rules[0].backendRefs[0].group', message: expect.stringContaining('one of group inference.networking.k8s.io does') }),
    ]);
  });
});

describe('InferencePool v1 selector', () => {
  it('an empty matchLabels is refused with its field path (GIE v1: MinProperties=1), instead of selecting every pod', () => {
    const r = importManifests(v1Pool('gemma3', ''));
    expect(r.errors).toEqual([expect.objectContaining({ object: 'InferencePool/gemma3', path: 'spec.selector.matchLabels', message: expect.stringContaining('at least one label') })]);
    expect(r.table.pools).toEqual([]);
  });
});
