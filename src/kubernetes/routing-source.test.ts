/**
 * The routing table from the cluster, through a port that lists the given
 * objects once: what the Gateway API and GIE say of objects as they arrive
 * one at a time — a drained rule, a backendRef to a missing pool, a v1 and an
 * alpha InferencePool of one name — never freezes the table nor sends
 * traffic elsewhere.
 */
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { KubernetesRoutingSource } from './routing-source.ts';
import type { KubeObject, KubernetesPort, ResourceType } from './port.ts';
import type { DesiredStatus } from './status.ts';
import { RoutingTableStore } from '../routing/store.ts';
import { resolveRequest } from '../routing/resolve.ts';
import type { GatewayError } from '../api/errors.ts';

const pool = (name: string, apiVersion = 'inference.networking.k8s.io/v1') =>
  apiVersion.endsWith('/v1')
    ? `apiVersion: ${apiVersion}\nkind: InferencePool\nmetadata: { name: ${name} }\nspec: { selector: { matchLabels: { pool: ${name} } }, targetPorts: [{ number: 8000 }] }\n---\n`
    : `apiVersion: ${apiVersion}\nkind: InferencePool\nmetadata: { name: ${name} }\nspec: { selector: { pool: ${name}-alpha }, targetPortNumber: 8000 }\n---\n`;
const route = (name: string, rules: string) => `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: ${name} }\nspec:\n  rules:\n${rules}\n---\n`;
const ref = (name: string, extra = '', group = 'inference.networking.k8s.io') => `{ group: ${group}, kind: InferencePool, name: ${name}${extra} }`;

/** A port whose every watch lists the objects of its type once (in namespace `default`, created at one instant). */
function listOnce(text: string): KubernetesPort {
  const objects = parseAllDocuments(text).map((d) => d.toJS() as KubeObject).filter(Boolean);
  return {
    watch(type: ResourceType, _options, handlers) {
      const items = objects.filter((o) => o.kind === type.kind && o.apiVersion.startsWith(`${type.group}/`));
      queueMicrotask(() => {
        for (const o of items) handlers.upsert({ ...o, metadata: { namespace: 'default', creationTimestamp: '2026-01-01T00:00:00Z', generation: 1, ...o.metadata } });
        handlers.synced();
      });
      return { stop: async () => {} };
    },
  } as KubernetesPort;
}

async function fromCluster(text: string) {
  const store = new RoutingTableStore();
  let status: DesiredStatus[] = [];
  const source = new KubernetesRoutingSource(listOnce(text), store, (d) => (status = d), { controllerName: 'infergate.dev/test' });
  await source.start(1000);
  await new Promise((r) => setTimeout(r, 10));
  source.stop();
  const statusOf = (kind: string, name: string, group = '') => {
    const d = status.find((s) => s.object.kind === kind && s.object.metadata.name === name && s.object.apiVersion.startsWith(group))!;
    return d.render({}, 1, '2026-01-01T00:00:00Z') as { parents: { parentRef: { name: string }; conditions: { type: string; status: string; reason: string; message: string }[] }[] };
  };
  return { store, source, statusOf };
}

let seed = 3;
const random = () => (seed = (seed * 16807) % 2147483647) / 2147483647;
function answer(store: RoutingTableStore, path: string): string {
  try {
    return resolveRequest(store.current!, path, { get: () => null, forEach: () => {} }, 'm', random).pool.name;
  } catch (err) {
    return `${(err as GatewayError).status} ${(err as GatewayError).code}`;
  }
}

describe('the routing table from the cluster', () => {
  it('a rule whose weights are all 0 is served (500 for its requests), and does not freeze the table', async () => {
    const { store, source } = await fromCluster(
      pool('gemma3') + route('catch-all', `  - backendRefs: [${ref('gemma3')}]`) + route('drained', `  - matches: [{ path: { value: /v1/completions } }]\n    backendRefs: [${ref('gemma3', ', weight: 0')}]`),
    );
    expect(source.problem).toBeUndefined();
    expect(answer(store, '/v1/completions')).toBe('500 backend_refs_drained');
    expect(answer(store, '/v1/chat/completions')).toBe('gemma3');
  });

  it('a route to a missing pool answers 500 and says so on its status; the catch-all does not take its requests', async () => {
    const { store, source, statusOf } = await fromCluster(
      pool('gemma3') + route('catch-all', `  - backendRefs: [${ref('gemma3')}]`) + route('to-missing', `  - matches: [{ path: { value: /v1/completions } }]\n    backendRefs: [${ref('non-existent-inference-pool')}]`),
    );
    expect(source.problem).toBeUndefined();
    expect(answer(store, '/v1/completions')).toBe('500 backend_ref_unresolved');
    expect(answer(store, '/v1/chat/completions')).toBe('gemma3');
    expect(statusOf('HTTPRoute', 'to-missing').parents[0]!.conditions).toContainEqual(
      expect.objectContaining({ type: 'ResolvedRefs', status: 'False', reason: 'BackendNotFound', message: expect.stringContaining('answered 500') }),
    );
  });

  it('a v1 and an alpha InferencePool of one name are two pools, each split its share, each with its own status', async () => {
    const alpha = 'inference.networking.x-k8s.io';
    const { store, statusOf } = await fromCluster(
      pool('llama', `${alpha}/v1alpha2`) + pool('llama') + route('llm-route', `  - backendRefs:\n    - ${ref('llama', ', weight: 50', alpha)}\n    - ${ref('llama', ', weight: 50')}`),
    );
    expect([...store.current!.pools.keys()].sort()).toEqual(['llama', 'llama@inference.networking.x-k8s.io']);
    const seen = new Set<string>();
    for (let i = 0; i < 100; i++) seen.add(answer(store, '/v1/completions'));
    expect([...seen].sort()).toEqual(['llama', 'llama@inference.networking.x-k8s.io']);
    for (const group of [alpha, 'inference.networking.k8s.io/']) {
      expect(statusOf('InferencePool', 'llama', group).parents[0]!.conditions).toContainEqual(expect.objectContaining({ type: 'Accepted', status: 'True' }));
    }
  });
});
