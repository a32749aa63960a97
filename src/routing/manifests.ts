/**
 * Import Kubernetes manifests — a user's file as it is: Gateways, HTTPRoutes,
 * InferencePools, InferenceObjectives, InferenceModelRewrites, InferenceModels,
 * ReferenceGrants, with the Namespaces, Deployments, Services and RBAC beside
 * them — into a routing table, with a status per object like Kubernetes
 * conditions. Nothing is skipped in silence: every routing object gets
 * Accepted (and ResolvedRefs where it refers to others), every other object
 * is listed as ignored, every unknown or deprecated field is a warning, and
 * every problem names its object and field path.
 */
import * as v from 'valibot';
import { parseAllDocuments } from 'yaml';
import { kinds, type KindName } from './manifest-kinds.ts';
import { fieldWarnings } from './manifest-fields.ts';
import { ignoredReason } from './manifest-ignored.ts';
import { boundedIssueMessage, issuePath, yamlErrorMessage, type Problem } from './problems.ts';
import { convertObjects, objectKey, type ParsedObject } from './manifest-convert.ts';
import { DEFAULT_NAMESPACE } from './references.ts';
import type { Condition, ObjectStatus } from './object-status.ts';
import type { RoutingTableInput } from './schema.ts';

export type { Condition, ObjectStatus, ParentStatus, ParentRef } from './object-status.ts';

export interface ManifestImport {
  table: RoutingTableInput;
  objects: ObjectStatus[];
  /** Problems that make the manifests unusable as a whole: the table must not be applied. */
  errors: Problem[];
  /** Problems Kubernetes would resolve on its own or that do not stop serving (a conflict's loser, a replaced duplicate, an unknown field). */
  warnings: Problem[];
}

export function importManifests(text: string, source = 'manifests'): ManifestImport {
  const docs = parseAllDocuments(text);
  const list = Array.isArray(docs) ? docs : [docs];
  return importDocuments(
    list.map((doc, index) =>
      doc.errors.length ? { problem: { object: `${source} document ${index + 1}`, path: '', message: `not valid YAML: ${yamlErrorMessage(doc.errors[0])}` } } : { value: doc.toJS() as unknown },
    ),
  );
}

/**
 * Several files imported as one set of objects (`apply -f DIR`): references
 * resolve across them; a problem names its file and document.
 */
export function importManifestFiles(files: readonly { name: string; text: string }[]): ManifestImport {
  const documents: ({ value: unknown } | { problem: Problem })[] = [];
  for (const f of files) {
    const docs = parseAllDocuments(f.text);
    (Array.isArray(docs) ? docs : [docs]).forEach((doc, index) =>
      documents.push(doc.errors.length ? { problem: { object: `${f.name} document ${index + 1}`, path: '', message: `not valid YAML: ${yamlErrorMessage(doc.errors[0])}` } } : { value: doc.toJS() as unknown }),
    );
  }
  return importDocuments(documents);
}

/**
 * The same import from objects already parsed (the Kubernetes API's JSON):
 * `values[i]` is document i; null and undefined are skipped, as empty YAML
 * documents are. `namespaceLabels`: the labels of namespaces known otherwise
 * (a cluster's Namespaces, which the Kubernetes source watches apart from
 * the routing objects); a Namespace among `values` adds to them.
 */
export function importObjects(values: readonly unknown[], namespaceLabels?: ReadonlyMap<string, Record<string, string>>): ManifestImport {
  return importDocuments(values.map((value) => ({ value })), namespaceLabels);
}

/** Whether the import holds anything that routes (an empty push clears the gateway). */
export function hasRoutingObjects(imported: ManifestImport): boolean {
  return imported.objects.some((o) => !o.ignored);
}

function importDocuments(documents: readonly ({ value: unknown } | { problem: Problem })[], known?: ReadonlyMap<string, Record<string, string>>): ManifestImport {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const objects: ObjectStatus[] = [];
  const parsed: ParsedObject[] = [];
  const namespaceLabels = new Map<string, Record<string, string>>(known);
  documents.forEach((doc, index) => {
    if ('problem' in doc) {
      errors.push(doc.problem);
      return;
    }
    if (doc.value === null || doc.value === undefined) return;
    const result = readObject(doc.value, index);
    objects.push(result.status);
    errors.push(...result.problems);
    warnings.push(...result.warnings);
    if (result.object) parsed.push(result.object);
    if (result.status.kind === 'Namespace' && result.status.apiVersion === 'v1') namespaceLabels.set(result.status.name, labelsOf(doc.value));
  });

  const converted = convertObjects(parsed, namespaceLabels);
  errors.push(...converted.errors);
  warnings.push(...converted.warnings);
  for (const status of objects) {
    const key = objectKey(status);
    const extra = converted.conditions.get(key);
    if (extra) status.conditions = mergeConditions(status.conditions, extra);
    const parents = converted.parents.get(key);
    if (parents) status.parents = parents;
    const notes = [...(converted.notes.get(key) ?? []), ...(status.warnings ?? [])];
    const ok = status.conditions.find((c) => c.type === 'Accepted' && c.status === 'True');
    if (ok && notes.length) ok.message = [ok.message, ...notes].filter(Boolean).join('; ');
  }
  return { table: converted.table, objects, errors, warnings };
}

function readObject(value: unknown, document: number): { status: ObjectStatus; problems: Problem[]; warnings: Problem[]; object?: ParsedObject } {
  const raw = (typeof value === 'object' && value !== null ? value : {}) as Record<string, unknown>;
  const kind = typeof raw.kind === 'string' ? raw.kind : '';
  const apiVersion = typeof raw.apiVersion === 'string' ? raw.apiVersion : '';
  const meta = (typeof raw.metadata === 'object' && raw.metadata !== null ? raw.metadata : {}) as Record<string, unknown>;
  const name = typeof meta.name === 'string' && meta.name ? meta.name : `(document ${document + 1})`;
  const namespace = typeof meta.namespace === 'string' && meta.namespace ? meta.namespace : DEFAULT_NAMESPACE;
  const object = `${kind || 'Object'}/${name}`;
  const status: ObjectStatus = { kind: kind || '(none)', name, namespace, apiVersion, document, conditions: [], manifest: raw };
  const problems: Problem[] = [];
  const reject = (reason: string) => {
    status.conditions.push({ type: 'Accepted', status: 'False', reason, message: problems.map((p) => (p.path ? `${p.path}: ${p.message}` : p.message)).join('; ') });
    return { status, problems, warnings: [] };
  };

  if (!kind) {
    problems.push({ object, path: 'kind', message: 'is missing' });
    return reject('Invalid');
  }
  if (!(kind in kinds)) {
    const ignored = ignoredReason(kind, apiVersion);
    if (ignored) {
      status.ignored = ignored;
      return { status, problems, warnings: [] };
    }
    problems.push({ object, path: 'kind', message: `"${kind}" (${apiVersion || 'no apiVersion'}) is not a kind this gateway knows (routing kinds: ${Object.keys(kinds).join(', ')}; Kubernetes' own kinds such as Deployment or Service are listed as ignored)` });
    return reject('UnsupportedKind');
  }
  const versions = kinds[kind as KindName].versions as Record<string, v.GenericSchema>;
  let schema = versions[apiVersion];
  let reason = 'Invalid';
  if (!schema) {
    problems.push({ object, path: 'apiVersion', message: `"${apiVersion}" is not an apiVersion this gateway knows for ${kind} (known: ${Object.keys(versions).join(', ')})` });
    reason = 'UnsupportedVersion';
    // Still check the fields against the closest known version, so every problem is reported at once.
    schema = closestVersion(kind as KindName, raw);
  }
  const result = v.safeParse(schema, raw);
  if (!result.success) {
    for (const issue of result.issues) problems.push({ object, path: issuePath(issue), message: hint(kind, issuePath(issue), boundedIssueMessage(issue), raw) });
  }
  if (problems.length) return reject(reason);
  const fields = fieldWarnings(kind, apiVersion, raw);
  if (fields.length) status.warnings = fields.map((f) => `${f.path}: ${f.message}`);
  status.conditions.push({ type: 'Accepted', status: 'True', reason: 'Accepted', message: '' });
  return {
    status,
    problems,
    warnings: fields.map((f) => ({ object, path: f.path, message: f.message })),
    object: { kind: kind as KindName, apiVersion, name, namespace, document, value: result.output as Record<string, unknown> },
  };
}

/** For an unknown apiVersion, the known version whose shape the object resembles most. */
function closestVersion(kind: KindName, raw: Record<string, unknown>): v.GenericSchema {
  const versions = Object.values(kinds[kind].versions) as v.GenericSchema[];
  let best = versions[0]!;
  let fewest = Infinity;
  for (const schema of versions) {
    const r = v.safeParse(schema, raw);
    const count = r.success ? 0 : r.issues.length;
    if (count < fewest) [best, fewest] = [schema, count];
  }
  return best;
}

/** Add the likely cause to a schema message where a common mistake explains it. */
function hint(kind: string, path: string, message: string, raw: Record<string, unknown>): string {
  const meta = raw.metadata as Record<string, unknown> | undefined;
  if (kind === 'InferencePool' && (path === 'spec' || path === 'spec.selector') && meta && 'modelServerSelector' in meta) {
    return `${path === 'spec' ? 'is missing, so spec.selector is too' : message}: the selector sits under metadata.modelServerSelector, but it belongs in spec.selector`;
  }
  if (path === 'spec' && message.startsWith('Invalid type')) return 'is required';
  return message;
}

function labelsOf(value: unknown): Record<string, string> {
  const labels = (value as { metadata?: { labels?: unknown } }).metadata?.labels;
  if (typeof labels !== 'object' || labels === null) return {};
  return Object.fromEntries(Object.entries(labels).filter(([, x]) => typeof x === 'string')) as Record<string, string>;
}

function mergeConditions(base: Condition[], extra: Condition[]): Condition[] {
  const out = base.filter((c) => !extra.some((e) => e.type === c.type));
  return [...out, ...extra];
}
