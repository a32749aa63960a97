/**
 * The Kubernetes objects the active routing table came from (the last
 * `infergate apply` or `--manifests`), with their status and what happened to
 * each — the gateway's answer to `get` and `describe`, and the basis of an
 * apply's per-object report: created, configured (its manifest changed),
 * unchanged, deleted (in the previous apply, not in this one).
 */
import type { Condition, ObjectStatus, ParentStatus } from './object-status.ts';

export type ObjectChangeKind = 'created' | 'configured' | 'unchanged' | 'deleted';

export interface ObjectEvent {
  type: 'Normal' | 'Warning';
  reason: string;
  message: string;
  /** ms since the Unix epoch. */
  at: number;
  count: number;
}

export interface StoredObject {
  apiVersion: string;
  kind: string;
  namespace: string;
  name: string;
  manifest?: Record<string, unknown>;
  conditions: Condition[];
  parents?: ParentStatus[];
  warnings?: string[];
  events: ObjectEvent[];
}

export interface ObjectChange {
  object: StoredObject;
  change: ObjectChangeKind;
}

/** Events kept per object (the newest). */
const MAX_EVENTS = 20;

/** `kind.group/namespace/name`: an object's identity across applies. */
export function objectIdentity(o: { apiVersion: string; kind: string; namespace: string; name: string }): string {
  const slash = o.apiVersion.indexOf('/');
  return `${o.kind}.${slash >= 0 ? o.apiVersion.slice(0, slash) : ''}/${o.namespace}/${o.name}`;
}

export class ManifestObjectStore {
  #objects = new Map<string, StoredObject>();

  /** What applying these objects would change, object by object (deleted ones last). Ignored objects are not routing objects and are left out. */
  diff(incoming: readonly ObjectStatus[]): ObjectChange[] {
    const out: ObjectChange[] = [];
    const seen = new Set<string>();
    for (const o of incoming) {
      if (o.ignored) continue;
      const id = objectIdentity(o);
      seen.add(id);
      const before = this.#objects.get(id);
      const object = toStored(o, before?.events ?? []);
      out.push({ object, change: !before ? 'created' : digest(before.manifest) === digest(o.manifest) ? 'unchanged' : 'configured' });
    }
    for (const [id, before] of this.#objects) if (!seen.has(id)) out.push({ object: before, change: 'deleted' });
    return out;
  }

  /** Keep the objects of an accepted apply, with an event for each that was created or configured. */
  commit(changes: readonly ObjectChange[], version: number, now: number): void {
    const next = new Map<string, StoredObject>();
    for (const { object, change } of changes) {
      if (change === 'deleted') continue;
      if (change !== 'unchanged') {
        addEvent(object, { type: 'Normal', reason: 'Applied', message: `${change} in routing table version ${version}`, at: now, count: 1 });
        for (const c of object.conditions) if (c.status === 'False') addEvent(object, { type: 'Warning', reason: c.reason, message: c.message, at: now, count: 1 });
        for (const w of object.warnings ?? []) addEvent(object, { type: 'Warning', reason: 'FieldIgnored', message: w, at: now, count: 1 });
      }
      next.set(objectIdentity(object), object);
    }
    this.#objects = next;
  }

  /** Replace the whole set as given (restored from disk, or followed from a leader). */
  restore(objects: readonly StoredObject[]): void {
    this.#objects = new Map(objects.map((o) => [objectIdentity(o), o]));
  }

  list(): StoredObject[] {
    return [...this.#objects.values()];
  }
}

function toStored(o: ObjectStatus, events: ObjectEvent[]): StoredObject {
  return {
    apiVersion: o.apiVersion,
    kind: o.kind,
    namespace: o.namespace,
    name: o.name,
    ...(o.manifest ? { manifest: o.manifest } : {}),
    conditions: o.conditions,
    ...(o.parents ? { parents: o.parents } : {}),
    ...(o.warnings?.length ? { warnings: o.warnings } : {}),
    events: [...events],
  };
}

/** Repeats fold into one event with a count, as Kubernetes does. */
function addEvent(object: StoredObject, event: ObjectEvent): void {
  const last = object.events.find((e) => e.type === event.type && e.reason === event.reason && e.message === event.message);
  if (last) {
    last.count++;
    last.at = event.at;
  } else object.events.push(event);
  object.events.sort((a, b) => a.at - b.at);
  if (object.events.length > MAX_EVENTS) object.events.splice(0, object.events.length - MAX_EVENTS);
}

/** The manifest as the user wrote it: server-set metadata and status do not make an object "configured". */
function digest(manifest: Record<string, unknown> | undefined): string {
  if (!manifest) return '';
  const { status: _status, metadata, ...rest } = manifest;
  const meta = { ...((metadata as Record<string, unknown>) ?? {}) };
  for (const k of ['resourceVersion', 'generation', 'uid', 'managedFields', 'creationTimestamp', 'selfLink']) delete meta[k];
  return canonical({ ...rest, metadata: meta });
}

function canonical(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonical).join(',')}]`;
  if (value && typeof value === 'object' && !(value instanceof Date)) {
    return `{${Object.keys(value).sort().map((k) => `${JSON.stringify(k)}:${canonical((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value) ?? 'null';
}
