import { describe, expect, it } from 'vitest';
import { acceptedOnly, conditionsStatus, parentsStatus, routeConditions } from './status.ts';
import type { KubeObject } from './port.ts';

const type = { group: 'inference.networking.k8s.io', version: 'v1', plural: 'inferencepools', kind: 'InferencePool' };
const object: KubeObject = { apiVersion: 'inference.networking.k8s.io/v1', kind: 'InferencePool', metadata: { name: 'p', namespace: 'llm', generation: 3 } };
const accepted = { type: 'Accepted', status: 'True' as const, reason: 'Accepted', message: '' };

describe('status rendering', () => {
  it('parents: other controllers kept, ours replaced, lastTransitionTime kept while the status stays', () => {
    const theirs = { parentRef: { name: 'istio' }, controllerName: 'istio.io/gateway-controller', conditions: [] };
    const d = parentsStatus(type, object, [{ kind: 'Status', name: 'default' }], [accepted], 'infergate.dev/gateway-controller');
    const first = d.render({ parents: [theirs] }, 3, '2026-01-01T00:00:00Z') as { parents: { conditions: { lastTransitionTime: string; observedGeneration: number }[] }[] };
    expect(first.parents[0]).toBe(theirs);
    expect(first.parents[1]).toMatchObject({ parentRef: { kind: 'Status', name: 'default' }, controllerName: 'infergate.dev/gateway-controller', conditions: [{ ...accepted, observedGeneration: 3, lastTransitionTime: '2026-01-01T00:00:00Z' }] });
    const again = d.render(first, 4, '2026-02-02T00:00:00Z') as typeof first;
    expect(again.parents[1]!.conditions[0]).toMatchObject({ observedGeneration: 4, lastTransitionTime: '2026-01-01T00:00:00Z' });
    const flipped = parentsStatus(type, object, [{ kind: 'Status', name: 'default' }], [{ ...accepted, status: 'False', reason: 'Invalid' }], 'infergate.dev/gateway-controller').render(again, 5, '2026-03-03T00:00:00Z') as typeof first;
    expect(flipped.parents[1]!.conditions[0]!.lastTransitionTime).toBe('2026-03-03T00:00:00Z');
    expect(flipped.parents).toHaveLength(2);
  });

  it('conditions: other condition types kept; Accepted sums up a failure', () => {
    const d = conditionsStatus(type, object, acceptedOnly([accepted, { type: 'ResolvedRefs', status: 'False', reason: 'PoolNotFound', message: 'spec.poolRef.name: InferencePool "x" does not exist' }]));
    expect(d.render({ conditions: [{ type: 'Ready', status: 'True' }] }, 1, '2026-01-01T00:00:00Z')).toEqual({
      conditions: [
        { type: 'Ready', status: 'True' },
        { type: 'Accepted', status: 'False', reason: 'PoolNotFound', message: 'spec.poolRef.name: InferencePool "x" does not exist', observedGeneration: 1, lastTransitionTime: '2026-01-01T00:00:00Z' },
      ],
    });
  });

  it('routes use the Gateway API reason for an invalid spec', () => {
    expect(routeConditions([{ type: 'Accepted', status: 'False', reason: 'Invalid', message: 'x' }])[0]!.reason).toBe('UnsupportedValue');
  });
});
