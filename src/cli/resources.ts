/**
 * The Kubernetes resources `infergate get` and `describe` know, by the names
 * kubectl users type (plural, singular, short name, `plural.group`), with the
 * columns of their table view, and the objects rendered as Kubernetes shows
 * them (`-o yaml|json`: the object as applied, with its status).
 */
import type { StoredObject } from '../routing/object-store.ts';

export interface Resource {
  kind: string;
  plural: string;
  names: readonly string[];
  /** Columns after NAMESPACE and NAME; `wide` adds the rest. */
  columns: readonly string[];
  wide: readonly string[];
  row(o: StoredObject, spec: Spec): string[];
  rowWide(o: StoredObject, spec: Spec): string[];
}

type Spec = Record<string, unknown>;

const str = (v: unknown) => (v === undefined || v === null || v === '' ? '<none>' : typeof v === 'string' ? v : JSON.stringify(v));
const condition = (o: StoredObject, type: string) => {
  const c = o.conditions.find((x) => x.type === type);
  return c ? (c.status === 'True' ? 'True' : `${c.status} (${c.reason})`) : '<none>';
};
const list = (v: unknown) => (Array.isArray(v) && v.length ? v : undefined);
const labels = (m: unknown) => (m && typeof m === 'object' ? Object.entries(m as Record<string, string>).map(([k, x]) => `${k}=${x}`).join(',') : '') || '<none>';
const poolOf = (spec: Spec) => {
  const ref = spec.poolRef as { name?: string } | undefined;
  const refs = list(spec.poolRefs) as { name?: string }[] | undefined;
  return ref?.name ?? refs?.map((r) => r.name).join(',') ?? (spec.poolSelector ? `selector ${labels((spec.poolSelector as Spec).matchLabels)}` : '<none>');
};
const parents = (o: StoredObject) => o.parents?.map((p) => `${p.parentRef.namespace}/${p.parentRef.name}${p.parentRef.sectionName ? `:${p.parentRef.sectionName}` : ''}`).join(',') || '<none>';

export const RESOURCES: readonly Resource[] = [
  {
    kind: 'InferencePool', plural: 'inferencepools', names: ['inferencepools', 'inferencepool', 'infpool', 'infpools'],
    columns: ['SELECTOR', 'PORTS', 'ACCEPTED'], wide: ['APP PROTOCOL', 'FAILURE MODE', 'PARENTS'],
    row: (o, s) => {
      const sel = (s.selector as Spec | undefined)?.matchLabels ?? s.selector;
      const ports = list(s.targetPorts) ? (s.targetPorts as { number: number }[]).map((p) => p.number).join(',') : str(s.targetPortNumber);
      return [labels(sel), ports, condition(o, 'Accepted')];
    },
    rowWide: (o, s) => [str(s.appProtocol ?? 'http'), str(((s.endpointPickerRef ?? s.extensionRef) as Spec | undefined)?.failureMode ?? 'FailClose'), parents(o)],
  },
  {
    kind: 'HTTPRoute', plural: 'httproutes', names: ['httproutes', 'httproute'],
    columns: ['HOSTNAMES', 'ACCEPTED', 'RESOLVED'], wide: ['PARENTS', 'BACKENDS'],
    row: (o, s) => [list(s.hostnames)?.join(',') ?? '*', condition(o, 'Accepted'), condition(o, 'ResolvedRefs')],
    rowWide: (o, s) => [
      parents(o),
      ((list(s.rules) ?? []) as Spec[]).flatMap((r) => ((list(r.backendRefs) ?? []) as Spec[]).map((b) => `${str(b.name)}${b.weight !== undefined ? `(${str(b.weight)})` : ''}`)).join(',') || '<none>',
    ],
  },
  {
    kind: 'InferenceObjective', plural: 'inferenceobjectives', names: ['inferenceobjectives', 'inferenceobjective'],
    columns: ['INFERENCE POOL', 'PRIORITY', 'ACCEPTED'], wide: ['WARNINGS'],
    row: (o, s) => [poolOf(s), s.priority === undefined ? '<unset: 0>' : str(s.priority), condition(o, 'Accepted')],
    rowWide: (o) => [String(o.warnings?.length ?? 0)],
  },
  {
    kind: 'InferenceModelRewrite', plural: 'inferencemodelrewrites', names: ['inferencemodelrewrites', 'inferencemodelrewrite'],
    columns: ['INFERENCE POOL', 'MODELS', 'ACCEPTED'], wide: ['TARGETS'],
    row: (o, s) => {
      const models = ((list(s.rules) ?? []) as Spec[]).flatMap((r) => ((list(r.matches) ?? []) as Spec[]).map((m) => str((m.model as Spec | undefined)?.value)));
      return [poolOf(s), models.join(',') || '*', condition(o, 'Accepted')];
    },
    rowWide: (_o, s) => [((list(s.rules) ?? []) as Spec[]).flatMap((r) => ((list(r.targets) ?? []) as Spec[]).map((t) => `${str(t.modelRewrite)}${t.weight !== undefined ? `(${str(t.weight)})` : ''}`)).join(',') || '<none>'],
  },
  {
    kind: 'InferenceModel', plural: 'inferencemodels', names: ['inferencemodels', 'inferencemodel'],
    columns: ['MODEL NAME', 'INFERENCE POOL', 'CRITICALITY', 'ACCEPTED'], wide: ['TARGETS'],
    row: (o, s) => [str(s.modelName), poolOf(s), str(s.criticality ?? 'Standard'), condition(o, 'Accepted')],
    rowWide: (_o, s) => [((list(s.targetModels) ?? []) as Spec[]).map((t) => `${str(t.name)}(${str(t.weight ?? 1)})`).join(',') || '<none>'],
  },
  {
    kind: 'TokenBudget', plural: 'tokenbudgets', names: ['tokenbudgets', 'tokenbudget', 'tb'],
    columns: ['TENANT', 'TOKENS/MIN', 'IN FLIGHT', 'ACCEPTED'], wide: ['DEFAULT MAX TOKENS'],
    row: (o, s) => [str(s.tenant), s.tokensPerMinute ? str(s.tokensPerMinute) : '<no limit>', s.maxConcurrentRequests ? str(s.maxConcurrentRequests) : '<no limit>', condition(o, 'Accepted')],
    rowWide: (_o, s) => [str(s.defaultMaxTokens ?? 1024)],
  },
  {
    kind: 'Gateway', plural: 'gateways', names: ['gateways', 'gateway', 'gtw'],
    columns: ['CLASS', 'LISTENERS', 'ACCEPTED'], wide: ['HOSTNAMES'],
    row: (o, s) => [str(s.gatewayClassName), ((list(s.listeners) ?? []) as Spec[]).map((l) => str(l.name)).join(',') || '<none>', condition(o, 'Accepted')],
    rowWide: (_o, s) => [((list(s.listeners) ?? []) as Spec[]).map((l) => str(l.hostname ?? '*')).join(',') || '<none>'],
  },
  {
    kind: 'ReferenceGrant', plural: 'referencegrants', names: ['referencegrants', 'referencegrant', 'refgrant'],
    columns: ['ACCEPTED'], wide: [],
    row: (o) => [condition(o, 'Accepted')],
    rowWide: () => [],
  },
];

/** The resource a name means: `inferencepools`, `infpool`, `InferencePool`, `inferencepools.inference.networking.k8s.io`. */
export function resourceFor(name: string): Resource | undefined {
  const n = name.toLowerCase().split('.')[0]!;
  return RESOURCES.find((r) => r.names.includes(n) || r.kind.toLowerCase() === n);
}

/** The object as Kubernetes shows it: as applied, with infergate's status. */
export function asKubernetesObject(o: StoredObject): Record<string, unknown> {
  const manifest = o.manifest ?? { apiVersion: o.apiVersion, kind: o.kind, metadata: { name: o.name, namespace: o.namespace } };
  const status: Record<string, unknown> = {};
  if (o.parents) status.parents = o.parents.map((p) => ({ parentRef: p.parentRef, controllerName: p.controllerName, conditions: p.conditions }));
  // A route without parentRefs (served on infergate's own listener) has its conditions at the top.
  if (!o.parents || (o.parents.length === 0 && o.kind === 'HTTPRoute')) status.conditions = o.conditions;
  return { ...manifest, status };
}

/** kubectl's age: 5s, 2m, 3h, 4d. */
export function age(ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000));
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  if (s < 172_800) return `${Math.floor(s / 3600)}h`;
  return `${Math.floor(s / 86_400)}d`;
}

export function specOf(o: StoredObject): Spec {
  const spec = o.manifest?.spec;
  return spec && typeof spec === 'object' ? (spec as Spec) : {};
}
