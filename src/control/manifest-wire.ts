/**
 * Kubernetes objects of an apply on the wire (infergate.v1.ManifestObject)
 * and back: the object as applied travels as JSON text, its status as the
 * Kubernetes shapes (conditions, per-parent status), events with their time.
 */
import { create } from '@bufbuild/protobuf';
import { ManifestObjectSchema, type ManifestObject } from '../gen/infergate/v1/routing_pb.ts';
import type { Condition, ObjectStatus, ParentStatus } from '../routing/object-status.ts';
import type { ObjectEvent, StoredObject } from '../routing/object-store.ts';

const PARENTED = new Set(['HTTPRoute', 'InferencePool']);

const conditionOut = (c: Condition) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message });
const conditionIn = (c: { type: string; status: string; reason: string; message: string }): Condition => ({
  type: c.type as Condition['type'],
  status: (['True', 'False', 'Unknown'].includes(c.status) ? c.status : 'Unknown') as Condition['status'],
  reason: c.reason,
  message: c.message,
});

/** An object of the import (or as the gateway keeps it) → wire. */
export function objectToWire(o: ObjectStatus | StoredObject): ManifestObject {
  return create(ManifestObjectSchema, {
    apiVersion: o.apiVersion,
    kind: o.kind,
    namespace: o.namespace,
    name: o.name,
    manifestJson: o.manifest ? JSON.stringify(o.manifest) : '',
    conditions: o.conditions.map(conditionOut),
    parents: (o.parents ?? []).map((p) => ({ parentRef: { ...p.parentRef, sectionName: p.parentRef.sectionName ?? '' }, controllerName: p.controllerName, conditions: p.conditions.map(conditionOut) })),
    ignored: 'ignored' in o ? (o.ignored ?? '') : '',
    warnings: o.warnings ?? [],
    events: ('events' in o ? o.events : []).map((e) => ({ type: e.type, reason: e.reason, message: e.message, atUnixMs: e.at, count: e.count })),
  });
}

/** Wire → an object of an apply (the client's import). */
export function objectFromWire(w: ManifestObject, document: number): ObjectStatus {
  let manifest: Record<string, unknown> | undefined;
  try {
    manifest = w.manifestJson ? (JSON.parse(w.manifestJson) as Record<string, unknown>) : undefined;
  } catch {
    manifest = undefined; // a client that sent unreadable JSON: the object is kept without it
  }
  return {
    apiVersion: w.apiVersion,
    kind: w.kind,
    namespace: w.namespace,
    name: w.name,
    document,
    conditions: w.conditions.map(conditionIn),
    // Routes and pools report per parent (an empty list is "no parents", not "no such status").
    ...(w.parents.length || PARENTED.has(w.kind) ? { parents: w.parents.map(parentIn) } : {}),
    ...(w.ignored ? { ignored: w.ignored } : {}),
    ...(w.warnings.length ? { warnings: [...w.warnings] } : {}),
    ...(manifest ? { manifest } : {}),
  };
}

/** Wire → an object as the gateway keeps it (get/describe, restore). */
export function storedFromWire(w: ManifestObject): StoredObject {
  const o = objectFromWire(w, 0);
  const events: ObjectEvent[] = w.events.map((e) => ({ type: e.type === 'Warning' ? 'Warning' : 'Normal', reason: e.reason, message: e.message, at: e.atUnixMs, count: e.count || 1 }));
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    namespace: o.namespace,
    name: o.name,
    conditions: o.conditions,
    ...(o.parents ? { parents: o.parents } : {}),
    ...(o.warnings ? { warnings: o.warnings } : {}),
    ...(o.manifest ? { manifest: o.manifest } : {}),
    events,
  };
}

function parentIn(p: ManifestObject['parents'][number]): ParentStatus {
  const r = p.parentRef;
  return {
    parentRef: { group: r?.group ?? '', kind: r?.kind ?? '', namespace: r?.namespace ?? '', name: r?.name ?? '', ...(r?.sectionName ? { sectionName: r.sectionName } : {}) },
    controllerName: p.controllerName,
    conditions: p.conditions.map(conditionIn),
  };
}
