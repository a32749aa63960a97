/**
 * Accepted Kubernetes objects → routing table, applying Kubernetes' rules:
 * a later definition of the same object replaces the earlier one; two
 * InferenceModels claiming one modelName in a pool — the older wins; refs to
 * missing pools are not resolved.
 */
import type { Condition } from './manifests.ts';
import type { KindName, HTTPRouteObject, InferenceModelObject, InferenceObjectiveObject, PoolV1Alpha2Object, PoolV1Object } from './manifest-kinds.ts';
import type { Problem } from './problems.ts';
import type { RoutingTableInput } from './schema.ts';

export interface ParsedObject {
  kind: KindName;
  apiVersion: string;
  name: string;
  namespace: string;
  document: number;
  value: Record<string, unknown>;
}

/** Annotation naming a pool's scheduling profile (infergate's extension). */
export const PROFILE_ANNOTATION = 'infergate.dev/scheduling-profile';

type Pools = NonNullable<RoutingTableInput['pools']>;
type Routes = NonNullable<RoutingTableInput['routes']>;
type Models = NonNullable<RoutingTableInput['models']>;
type Objectives = NonNullable<RoutingTableInput['objectives']>;

export function convertObjects(parsed: ParsedObject[]) {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const conditions = new Map<string, Condition[]>();
  const keyOf = (o: ParsedObject) => `${o.kind}/${o.namespace}/${o.name}/${o.document}`;
  const set = (o: ParsedObject, c: Condition) => {
    const list = conditions.get(keyOf(o)) ?? [];
    conditions.set(keyOf(o), [...list.filter((x) => x.type !== c.type), c]);
  };

  // Same kind, namespace and name: the later document replaces the earlier, as `kubectl apply` would.
  const latest = new Map<string, ParsedObject>();
  for (const o of parsed) {
    const id = `${o.kind}/${o.namespace}/${o.name}`;
    const earlier = latest.get(id);
    if (earlier) {
      const message = `defined again in document ${o.document + 1}; that later definition replaces this one`;
      warnings.push({ object: `${o.kind}/${o.name}`, path: '', message: `document ${earlier.document + 1} ${message}` });
      set(earlier, { type: 'Accepted', status: 'False', reason: 'Superseded', message });
    }
    latest.set(id, o);
  }
  const objects = [...latest.values()];
  const of = <T>(kind: KindName) => objects.filter((o) => o.kind === kind) as (ParsedObject & { value: T })[];

  const pools: Pools = [];
  for (const o of of<PoolV1Object | PoolV1Alpha2Object>('InferencePool')) pools.push(convertPool(o));
  const poolNames = new Set(pools.map((p) => p.name));

  const routes: Routes = [];
  for (const o of of<HTTPRouteObject>('HTTPRoute')) {
    const unresolved: Problem[] = [];
    const rules = (o.value.spec.rules ?? []).map((rule, r) => ({
      matches: (rule.matches ?? [{}]).map((m) => ({
        path: { type: m.path?.type ?? 'PathPrefix', value: m.path?.value ?? '/' },
        headers: (m.headers ?? []).map((h) => ({ type: h.type ?? 'Exact', name: h.name, value: h.value })),
      })),
      backendRefs: (rule.backendRefs ?? []).flatMap((ref, b) => {
        const path = `spec.rules[${r}].backendRefs[${b}]`;
        const kind = ref.kind ?? 'Service';
        if (kind !== 'InferencePool') {
          unresolved.push({ object: `HTTPRoute/${o.name}`, path: `${path}.kind`, message: `"${kind}" is not supported: backendRefs must be of kind InferencePool` });
          return [];
        }
        if (!poolNames.has(ref.name)) {
          unresolved.push({ object: `HTTPRoute/${o.name}`, path: `${path}.name`, message: `InferencePool "${ref.name}" does not exist` });
          return [];
        }
        return [{ pool: ref.name, weight: ref.weight ?? 1 }];
      }),
    }));
    resolved(o, unresolved, unresolved.some((p) => p.path.endsWith('.kind')) ? 'InvalidKind' : 'BackendNotFound');
    routes.push({ name: o.name, rules: rules.filter((rule) => rule.backendRefs.length > 0) });
  }

  const models: Models = [];
  const claims = new Map<string, (ParsedObject & { value: InferenceModelObject })[]>();
  for (const o of of<InferenceModelObject>('InferenceModel')) {
    const spec = o.value.spec;
    const key = `${spec.poolRef.name}\u0000${spec.modelName}`;
    claims.set(key, [...(claims.get(key) ?? []), o]);
  }
  for (const group of claims.values()) {
    group.sort((a, b) => age(a) - age(b) || a.document - b.document);
    const [winner, ...losers] = group;
    const spec = winner!.value.spec;
    for (const loser of losers) {
      const message = `modelName "${spec.modelName}" in pool "${spec.poolRef.name}" is already claimed by the older InferenceModel "${winner!.name}"`;
      warnings.push({ object: `InferenceModel/${loser.name}`, path: 'spec.modelName', message });
      set(loser, { type: 'Accepted', status: 'False', reason: 'ModelNameInUse', message });
    }
    if (!resolvePool(winner!, spec.poolRef.name)) continue;
    models.push({
      name: spec.modelName,
      pool: spec.poolRef.name,
      criticality: spec.criticality ?? 'Standard',
      targetModels: (spec.targetModels ?? []).map((t) => ({ name: t.name, weight: t.weight ?? 1 })),
    });
  }

  const objectives: Objectives = [];
  for (const o of of<InferenceObjectiveObject>('InferenceObjective')) {
    if (!resolvePool(o, o.value.spec.poolRef.name)) continue;
    objectives.push({ name: o.name, pool: o.value.spec.poolRef.name, priority: o.value.spec.priority ?? 0 });
  }

  return { table: { routes, pools, models, objectives } satisfies RoutingTableInput, errors, warnings, conditions };

  function resolvePool(o: ParsedObject, pool: string): boolean {
    const ok = poolNames.has(pool);
    resolved(o, ok ? [] : [{ object: `${o.kind}/${o.name}`, path: 'spec.poolRef.name', message: `InferencePool "${pool}" does not exist` }], 'PoolNotFound');
    return ok;
  }

  function resolved(o: ParsedObject, problems: Problem[], reason: string): void {
    errors.push(...problems);
    set(
      o,
      problems.length
        ? { type: 'ResolvedRefs', status: 'False', reason, message: problems.map((p) => `${p.path}: ${p.message}`).join('; ') }
        : { type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message: '' },
    );
  }
}

function convertPool(o: ParsedObject & { value: PoolV1Object | PoolV1Alpha2Object }): Pools[number] {
  const profile = (o.value.metadata.annotations ?? {})[PROFILE_ANNOTATION];
  if (o.apiVersion === 'inference.networking.k8s.io/v1') {
    const spec = (o.value as PoolV1Object).spec;
    return {
      name: o.name,
      selector: spec.selector.matchLabels,
      targetPorts: spec.targetPorts.map((p) => p.number),
      appProtocol: spec.appProtocol === 'kubernetes.io/h2c' ? 'h2c' : 'http',
      failureMode: spec.endpointPickerRef?.failureMode ?? 'FailClose',
      profile,
    };
  }
  const spec = (o.value as PoolV1Alpha2Object).spec;
  return {
    name: o.name,
    selector: spec.selector,
    targetPorts: [spec.targetPortNumber],
    failureMode: spec.extensionRef?.failureMode ?? 'FailClose',
    profile,
  };
}

/** Older first; objects without a creationTimestamp are new, so younger than any that has one. */
function age(o: ParsedObject): number {
  const ts = (o.value.metadata as { creationTimestamp?: string | Date }).creationTimestamp;
  const t = ts instanceof Date ? ts.getTime() : ts ? Date.parse(ts) : NaN;
  return Number.isFinite(t) ? t : Number.MAX_SAFE_INTEGER;
}
