/**
 * PoolState.onReady against the plain count it replaces: for any sequence of
 * dispatches, completions, snapshots (endpoints coming, going, turning
 * unready) and pruning, the ready endpoints and this gateway's requests in
 * flight on them are what a pass over the snapshot would count.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { PoolState } from './pool-state.ts';

type Op =
  | { kind: 'dispatch'; endpoint: number; key: number }
  | { kind: 'complete'; endpoint: number; key: number }
  | { kind: 'snapshot'; listed: boolean[]; ready: boolean[] }
  | { kind: 'prune' }
  | { kind: 'read' };

const ENDPOINTS = 6;
const op: fc.Arbitrary<Op> = fc.oneof(
  { arbitrary: fc.record({ kind: fc.constant('dispatch' as const), endpoint: fc.nat(ENDPOINTS - 1), key: fc.nat(20) }), weight: 4 },
  { arbitrary: fc.record({ kind: fc.constant('complete' as const), endpoint: fc.nat(ENDPOINTS - 1), key: fc.nat(20) }), weight: 3 },
  { arbitrary: fc.record({ kind: fc.constant('snapshot' as const), listed: fc.array(fc.boolean(), { minLength: ENDPOINTS, maxLength: ENDPOINTS }), ready: fc.array(fc.boolean(), { minLength: ENDPOINTS, maxLength: ENDPOINTS }) }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'prune' as const }), weight: 1 },
  { arbitrary: fc.constant({ kind: 'read' as const }), weight: 3 },
);

describe('PoolState.onReady', () => {
  it('counts as a pass over the snapshot would', () => {
    fc.assert(
      fc.property(fc.array(op, { maxLength: 80 }), (ops) => {
        const state = new PoolState();
        let now = 0;
        let endpoints = Array.from({ length: ENDPOINTS }, (_, i) => ({ id: `e${i}`, ready: true }));
        for (const o of ops) {
          now += 10;
          if (o.kind === 'dispatch') state.record(`e${o.endpoint}`, now).inFlight.dispatched(`k${o.key}`, now);
          else if (o.kind === 'complete') state.record(`e${o.endpoint}`, now).inFlight.completed(`k${o.key}`);
          // A new snapshot is a new array (and new endpoint objects), as the agent makes them.
          else if (o.kind === 'snapshot') endpoints = o.listed.flatMap((listed, i) => (listed ? [{ id: `e${i}`, ready: o.ready[i]! }] : []));
          else if (o.kind === 'prune') state.prune(now, 0);
          const got = { ...state.onReady(endpoints) };
          let ready = 0;
          let inFlight = 0;
          for (const e of endpoints) {
            if (!e.ready) continue;
            ready++;
            inFlight += state.peek(e.id)?.inFlight.total ?? 0;
          }
          expect(got).toEqual({ ready, inFlight });
        }
      }),
      { numRuns: 500 },
    );
  });
});
