import { describe, expect, it } from 'vitest';
import { importManifests } from './manifests.ts';
import { RoutingTableStore } from './store.ts';

const pool = (name: string, port = 8000, extra = '') => `apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: ${name}${extra} }
spec: { selector: { matchLabels: { app: ${name} } }, targetPorts: [{ number: ${port} }] }
---
`;

function apply(store: RoutingTableStore, text: string, options: { allowEmpty?: boolean } = {}) {
  const imported = importManifests(text);
  const r = store.apply(imported.table, { objects: imported.objects, allowEmpty: options.allowEmpty ?? false });
  if (!r.ok) return r;
  return { ...r, changes: Object.fromEntries((r.objects ?? []).map((o) => [o.object.name, o.change])) };
}

describe('objects kept with the table', () => {
  it('reports created, configured, unchanged and deleted per object, and keeps the version when nothing changed', () => {
    const store = new RoutingTableStore();
    expect(apply(store, pool('a') + pool('b'))).toMatchObject({ version: 1, changes: { a: 'created', b: 'created' } });
    expect(apply(store, pool('a') + pool('b'))).toMatchObject({ version: 1, unchanged: true, changes: { a: 'unchanged', b: 'unchanged' } });
    expect(store.version).toBe(1);
    // Server-side metadata does not make an object "configured".
    expect(apply(store, pool('a', 8000, ', resourceVersion: "7"') + pool('b'))).toMatchObject({ unchanged: true });
    expect(apply(store, pool('a', 9000) + pool('c'))).toMatchObject({ version: 2, changes: { a: 'configured', c: 'created', b: 'deleted' } });
    expect(store.objects.list().map((o) => o.name)).toEqual(['a', 'c']);
    const events = store.objects.list()[0]!.events;
    expect(events.map((e) => e.message)).toEqual(['created in routing table version 1', 'configured in routing table version 2']);
  });

  it('refuses a push with no routing object unless asked', () => {
    const store = new RoutingTableStore();
    apply(store, pool('a'));
    const deployment = 'apiVersion: apps/v1\nkind: Deployment\nmetadata: { name: d }\n';
    expect(apply(store, deployment)).toEqual({ ok: false, reason: 'empty' });
    expect(apply(store, deployment, { allowEmpty: true })).toMatchObject({ ok: true, version: 2, changes: { a: 'deleted' } });
  });

  it('refuses a table a check refuses (a missing scheduling profile)', () => {
    const store = new RoutingTableStore();
    store.setCheck((t) => t.pools.filter((p) => p.profile === 'ghost').map((p) => ({ object: `Pool/${p.name}`, path: 'profile', message: 'no such profile' })));
    expect(apply(store, pool('a', 8000, ', annotations: { infergate.dev/scheduling-profile: ghost }'))).toMatchObject({ ok: false, reason: 'invalid', problems: [expect.objectContaining({ message: 'no such profile' })] });
  });
});
