/**
 * The status infergate writes on the routing objects it serves, shaped as
 * their APIs define it:
 * - InferencePool (GIE v1 `InferencePoolStatus`): `status.parents[]`, one entry
 *   a parent (the Gateways whose HTTPRoutes send traffic to the pool) with
 *   `parentRef`, `controllerName` and conditions Accepted (reason Accepted, or
 *   why not) and ResolvedRefs. A pool no Gateway of ours reaches is reported
 *   under the parent `{kind: Status, name: default}` — GIE v1alpha2's name for
 *   "not associated with a Gateway" — since infergate serves pools without a
 *   Gateway object too.
 * - HTTPRoute (Gateway API `RouteParentStatus`): `status.parents[]` per parentRef
 *   of ours, with `controllerName` and Accepted / ResolvedRefs using the Gateway
 *   API's reasons (Accepted, UnsupportedValue; ResolvedRefs, BackendNotFound,
 *   InvalidKind).
 * - InferenceObjective, InferenceModel, InferenceModelRewrite: `status.conditions`
 *   with Accepted.
 * Entries of other controllers (another controllerName) are kept as they are:
 * each controller owns its own entries.
 */
import { conditionsAt, type ConditionInput } from './conditions.ts';
import type { KubeObject, ResourceType } from './port.ts';

export interface ParentRef {
  group?: string;
  kind?: string;
  name: string;
  namespace?: string;
  sectionName?: string;
}

export const DEFAULT_PARENT: ParentRef = { kind: 'Status', name: 'default' };

/** What one object's status should say; `render` merges it into the status as stored. */
export interface DesiredStatus {
  type: ResourceType;
  /** The object as last seen (its resourceVersion is the first write's precondition). */
  object: KubeObject;
  render(current: unknown, generation: number, now: string): unknown;
}

type Parents = { parentRef?: ParentRef; controllerName?: string; conditions?: unknown }[];

const sameRef = (a: ParentRef | undefined, b: ParentRef) =>
  !!a && a.name === b.name && (a.kind ?? 'Gateway') === (b.kind ?? 'Gateway') && (a.namespace ?? '') === (b.namespace ?? '') && (a.sectionName ?? '') === (b.sectionName ?? '');

function asRecord(value: unknown): Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** `status.parents[]`: other controllers' entries as they are, ours replaced by `parents` with `conditions`. */
export function parentsStatus(type: ResourceType, object: KubeObject, parents: readonly ParentRef[], conditions: readonly ConditionInput[], controllerName: string): DesiredStatus {
  return {
    type,
    object,
    render(current, generation, now) {
      const status = asRecord(current);
      const before = (Array.isArray(status.parents) ? status.parents : []) as Parents;
      // Ours: written with our controllerName, or (a controller that leaves it out) naming one of our parents.
      const others = before.filter((p) => (p.controllerName ? p.controllerName !== controllerName : !parents.some((r) => sameRef(p.parentRef, r))));
      const ours = parents.map((parentRef) => ({
        parentRef,
        controllerName,
        conditions: conditionsAt(conditions, generation, before.find((p) => sameRef(p.parentRef, parentRef))?.conditions, now),
      }));
      return { ...status, parents: [...others, ...ours] };
    },
  };
}

/** `status.conditions` (objectives, rewrites, models). */
export function conditionsStatus(type: ResourceType, object: KubeObject, conditions: readonly ConditionInput[]): DesiredStatus {
  return {
    type,
    object,
    render(current, generation, now) {
      const status = asRecord(current);
      const kept = (Array.isArray(status.conditions) ? (status.conditions as { type?: string }[]) : []).filter((c) => !conditions.some((w) => w.type === c.type));
      return { ...status, conditions: [...kept, ...conditionsAt(conditions, generation, status.conditions, now)] };
    },
  };
}

/** Gateway API reasons for an HTTPRoute's Accepted condition, from the conversion's. */
export function routeConditions(conditions: readonly ConditionInput[]): ConditionInput[] {
  return conditions.map((c) =>
    c.type === 'Accepted' && c.status === 'False' && (c.reason === 'Invalid' || c.reason === 'UnsupportedVersion') ? { ...c, reason: 'UnsupportedValue' } : c,
  );
}

/** One Accepted condition summing up an objective's (or model's, rewrite's) own conditions. */
export function acceptedOnly(conditions: readonly ConditionInput[]): ConditionInput[] {
  const failed = conditions.find((c) => c.status === 'False');
  if (failed) return [{ type: 'Accepted', status: 'False', reason: failed.reason, message: failed.message }];
  return [{ type: 'Accepted', status: 'True', reason: 'Accepted', message: conditions.find((c) => c.type === 'Accepted')?.message ?? '' }];
}

/** A pool's conditions: Accepted from the conversion; ResolvedRefs True (infergate picks endpoints itself: no endpointPickerRef to resolve). */
export function poolConditions(conditions: readonly ConditionInput[]): ConditionInput[] {
  const accepted = conditions.find((c) => c.type === 'Accepted') ?? { type: 'Accepted', status: 'True', reason: 'Accepted', message: '' };
  return [
    accepted,
    { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: 'infergate picks the endpoints itself; an endpointPickerRef, if any, is not called' },
  ];
}
