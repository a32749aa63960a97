/**
 * Accepted Kubernetes objects → routing table, applying Kubernetes' rules:
 * a later definition of the same object replaces the earlier one (and both
 * are reported); references resolve in the referrer's namespace; two
 * InferenceModels claiming one modelName in a pool — the older wins; refs to
 * missing pools are not resolved. An InferencePool is known by its group too
 * (references.ts: PoolIndex). HTTPRoutes and Gateways: manifest-routes.ts.
 */
import type {
  GatewayObject,
  HTTPRouteObject,
  InferenceModelObject,
  InferenceModelRewriteObject,
  InferenceObjectiveObject,
  KindName,
  PoolV1Alpha2Object,
  PoolV1Object,
  ReferenceGrantObject,
  TokenBudgetObject,
} from './manifest-kinds.ts';
import { convertRoutes } from './manifest-routes.ts';
import { accepted, CONTROLLER_NAME, resolved, type Condition, type ParentStatus } from './object-status.ts';
import type { Problem } from './problems.ts';
import { groupOf, nsKey, POOL_GROUP, POOL_GROUP_ALPHA, PoolIndex, selectorMatches, tableName } from './references.ts';
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
type Models = NonNullable<RoutingTableInput['models']>;
type Objectives = NonNullable<RoutingTableInput['objectives']>;
type Rewrites = NonNullable<RoutingTableInput['rewrites']>;
type Budgets = NonNullable<RoutingTableInput['budgets']>;
type Of<T> = ParsedObject & { value: T };

const CRITICALITY_PRIORITY: Record<string, number> = { Critical: 1, Standard: 0, Sheddable: -1 };
const INFERENCE_MODEL_NOTE =
  'InferenceModel is the older API (inference.networking.x-k8s.io/v1alpha2): InferenceObjective (an integer priority, chosen by the x-llm-d-inference-objective header) and InferenceModelRewrite (weighted target models) replace it';

export interface Conversion {
  table: RoutingTableInput;
  errors: Problem[];
  warnings: Problem[];
  /** Conditions by object key (`kind/namespace/name/document`). */
  conditions: Map<string, Condition[]>;
  parents: Map<string, ParentStatus[]>;
  /** Notes for the object's status (what replaces a deprecated API), by object key. */
  notes: Map<string, string[]>;
}

export const objectKey = (o: { kind: string; namespace: string; name: string; document: number }) => `${o.kind}/${o.namespace}/${o.name}/${o.document}`;

export function convertObjects(parsed: ParsedObject[], namespaceLabels: Map<string, Record<string, string>> = new Map()): Conversion {
  const errors: Problem[] = [];
  const warnings: Problem[] = [];
  const conditions = new Map<string, Condition[]>();
  const parents = new Map<string, ParentStatus[]>();
  const notes = new Map<string, string[]>();
  const set = (o: ParsedObject, c: Condition) => {
    const list = conditions.get(objectKey(o)) ?? [];
    conditions.set(objectKey(o), [...list.filter((x) => x.type !== c.type), c]);
  };
  const note = (o: ParsedObject, text: string) => notes.set(objectKey(o), [...(notes.get(objectKey(o)) ?? []), text]);

  // Same kind, namespace and name: the later document replaces the earlier, as `kubectl apply` would; both are reported.
  // An InferencePool's group is part of it: GIE's GA migration runs a v1 and an alpha pool of one name side by side.
  // (The other kinds' two groups are two spellings of one API: a second object of the name redefines the first.)
  const latest = new Map<string, ParsedObject>();
  for (const o of parsed) {
    const id = o.kind === 'InferencePool' ? `${o.kind}.${groupOf(o.apiVersion)}/${o.namespace}/${o.name}` : `${o.kind}/${o.namespace}/${o.name}`;
    const earlier = latest.get(id);
    if (earlier) {
      const message = `${o.kind} ${o.namespace}/${o.name} is defined twice (documents ${earlier.document + 1} and ${o.document + 1}): the later definition replaces the earlier`;
      warnings.push({ object: `${o.kind}/${o.name}`, path: '', message });
      set(earlier, { type: 'Accepted', status: 'False', reason: 'Superseded', message });
    }
    latest.set(id, o);
  }
  // Older first (Kubernetes' tie-break for conflicts and rewrite precedence), then in the order written.
  const objects = [...latest.values()].sort((a, b) => age(a) - age(b) || a.document - b.document);
  const of = <T>(kind: KindName) => objects.filter((o) => o.kind === kind) as Of<T>[];

  const poolObjects = of<PoolV1Object | PoolV1Alpha2Object>('InferencePool');
  const poolIndex = new PoolIndex(
    poolObjects.map((o) => ({ namespace: o.namespace, name: o.name, group: groupOf(o.apiVersion), labels: (o.value.metadata as { labels?: Record<string, string> }).labels ?? {} })),
  );
  const poolOf = (o: ParsedObject) => poolIndex.get(o.namespace, o.name, groupOf(o.apiVersion))!;
  const pools: Pools = poolObjects.map((o) => convertPool(o, poolOf(o).tableName));

  // Gateway API HTTPRoute precedence, after the match itself: the oldest route (creationTimestamp), then the first
  // by "{namespace}/{name}" — never the order of the documents, which the cluster does not have.
  const routes = of<HTTPRouteObject>('HTTPRoute').sort((a, b) => age(a) - age(b) || compareText(nsKey(a.namespace, a.name), nsKey(b.namespace, b.name)));
  const routed = convertRoutes({
    routes,
    gateways: of<GatewayObject>('Gateway'),
    grants: of<ReferenceGrantObject>('ReferenceGrant'),
    namespaceLabels,
    pools: poolIndex,
  });
  errors.push(...routed.errors);
  warnings.push(...routed.warnings);
  for (const [o, status] of routed.status) {
    for (const c of status.conditions) set(o, c);
    parents.set(objectKey(o), status.parents);
  }
  for (const o of poolObjects) {
    // One entry per Gateway (a route's listener sectionName does not make another parent of the pool).
    const gateways = new Map<string, ParentStatus['parentRef']>();
    for (const r of routed.poolParents.get(poolOf(o).tableName) ?? []) {
      gateways.set(`${r.namespace}/${r.name}`, { group: r.group, kind: r.kind, namespace: r.namespace, name: r.name });
    }
    parents.set(
      objectKey(o),
      [...gateways.values()].map((parentRef) => ({
        parentRef,
        controllerName: CONTROLLER_NAME,
        conditions: [accepted(), resolved('infergate picks the endpoints itself; an endpointPickerRef, if any, is not called')],
      })),
    );
  }

  const models: Models = [];
  const claims = new Map<string, Of<InferenceModelObject>[]>();
  for (const o of of<InferenceModelObject>('InferenceModel')) {
    const ref = o.value.spec.poolRef;
    const key = `${findPool(o, ref, POOL_GROUP_ALPHA) ?? nsKey(o.namespace, ref.name)}\u0000${o.value.spec.modelName}`;
    claims.set(key, [...(claims.get(key) ?? []), o]);
  }
  for (const group of claims.values()) {
    const [winner, ...losers] = group;
    const spec = winner!.value.spec;
    for (const loser of losers) {
      const message = `modelName "${spec.modelName}" in pool "${spec.poolRef.name}" is already claimed by the older InferenceModel "${winner!.name}"`;
      warnings.push({ object: `InferenceModel/${loser.name}`, path: 'spec.modelName', message });
      set(loser, { type: 'Accepted', status: 'False', reason: 'ModelNameInUse', message });
    }
    note(winner!, INFERENCE_MODEL_NOTE + (spec.criticality ? `; criticality ${spec.criticality} is read as priority ${CRITICALITY_PRIORITY[spec.criticality]}` : ''));
    // GIE v1alpha2 PoolObjectReference: the group defaults to inference.networking.x-k8s.io.
    const pool = resolvePool(winner!, spec.poolRef, 'spec.poolRef.name', POOL_GROUP_ALPHA);
    if (!pool) continue;
    models.push({
      name: spec.modelName,
      pool,
      criticality: spec.criticality ?? 'Standard',
      targetModels: (spec.targetModels ?? []).map((t) => ({ name: t.name, weight: t.weight ?? 1 })),
    });
  }

  const objectives: Objectives = [];
  for (const o of of<InferenceObjectiveObject>('InferenceObjective')) {
    const spec = o.value.spec;
    const targets = objectivePools(o);
    if (!targets) continue;
    let priority = spec.priority;
    if (spec.criticality !== undefined) {
      const mapped = typeof spec.criticality === 'number' ? spec.criticality : CRITICALITY_PRIORITY[spec.criticality]!;
      const message = priority === undefined ? `is deprecated: priority replaces it; read as priority ${mapped}` : `is deprecated and ignored: priority (${priority}) is set`;
      warnings.push({ object: `InferenceObjective/${o.name}`, path: 'spec.criticality', message });
      note(o, `spec.criticality ${message}`);
      priority ??= mapped;
    }
    for (const pool of targets) objectives.push({ name: o.name, pool, priority: priority ?? 0 });
  }

  const rewrites: Rewrites = [];
  for (const o of of<InferenceModelRewriteObject>('InferenceModelRewrite')) {
    const spec = o.value.spec;
    const pool = resolvePool(o, spec.poolRef, 'spec.poolRef.name', POOL_GROUP);
    spec.rules.forEach((rule, r) => {
      const weighted = rule.targets.filter((t) => t.weight !== undefined).length;
      if (weighted > 0 && weighted < rule.targets.length) {
        errors.push({ object: `InferenceModelRewrite/${o.name}`, path: `spec.rules[${r}].targets`, message: 'weights must be set on every target or on none' });
        set(o, { type: 'Accepted', status: 'False', reason: 'Invalid', message: `spec.rules[${r}].targets: weights must be set on every target or on none` });
      }
    });
    if (!pool) continue;
    rewrites.push({
      name: tableName(o.namespace, o.name),
      pool,
      rules: spec.rules.map((rule) => ({
        models: rule.matches.map((m) => m.model.value),
        targets: rule.targets.map((t) => ({ model: t.modelRewrite, weight: t.weight ?? 1 })),
      })),
    });
  }

  // One budget per tenant: the older TokenBudget holds it (as the older InferenceModel holds a modelName).
  const budgets: Budgets = [];
  const tenants = new Map<string, string>();
  for (const o of of<TokenBudgetObject>('TokenBudget')) {
    const spec = o.value.spec;
    const holder = tenants.get(spec.tenant);
    if (holder) {
      const message = `tenant "${spec.tenant}" already has the older TokenBudget "${holder}"`;
      warnings.push({ object: `TokenBudget/${o.name}`, path: 'spec.tenant', message });
      set(o, { type: 'Accepted', status: 'False', reason: 'TenantInUse', message });
      continue;
    }
    if (!spec.tokensPerMinute && !spec.maxConcurrentRequests) {
      const message = 'limits nothing: set tokensPerMinute, maxConcurrentRequests or both';
      errors.push({ object: `TokenBudget/${o.name}`, path: 'spec', message });
      set(o, { type: 'Accepted', status: 'False', reason: 'Invalid', message });
      continue;
    }
    tenants.set(spec.tenant, `${o.namespace}/${o.name}`);
    budgets.push({ name: tableName(o.namespace, o.name), tenant: spec.tenant, tokensPerMinute: spec.tokensPerMinute, maxConcurrentRequests: spec.maxConcurrentRequests, defaultMaxTokens: spec.defaultMaxTokens });
  }

  return { table: { routes: routed.routes, pools, models, objectives, rewrites, budgets }, errors, warnings, conditions, parents, notes };

  function objectivePools(o: Of<InferenceObjectiveObject>): string[] | undefined {
    const spec = o.value.spec;
    const given = [spec.poolRef !== undefined, spec.poolRefs !== undefined, spec.poolSelector !== undefined].filter(Boolean).length;
    if (given !== 1) {
      const message = given === 0 ? 'names no pool: set poolRef, poolRefs or poolSelector' : 'sets more than one of poolRef, poolRefs and poolSelector: set exactly one';
      errors.push({ object: `InferenceObjective/${o.name}`, path: 'spec', message });
      set(o, { type: 'Accepted', status: 'False', reason: 'Invalid', message });
      return undefined;
    }
    if (spec.poolSelector) {
      const selector = spec.poolSelector;
      // A label selector has no group: it selects the pools of either group.
      const found = poolIndex.all().filter((p) => p.namespace === o.namespace && selectorMatches(selector, p.labels)).map((p) => p.tableName);
      set(o, found.length ? resolved() : { type: 'ResolvedRefs', status: 'False', reason: 'PoolNotFound', message: `spec.poolSelector selects no InferencePool in namespace "${o.namespace}"` });
      if (!found.length) warnings.push({ object: `InferenceObjective/${o.name}`, path: 'spec.poolSelector', message: `selects no InferencePool in namespace "${o.namespace}" yet` });
      return found;
    }
    const refs = spec.poolRef ? [{ ref: spec.poolRef, path: 'spec.poolRef.name' }] : spec.poolRefs!.map((ref, i) => ({ ref, path: `spec.poolRefs[${i}].name` }));
    const missing: Problem[] = [];
    const found: string[] = [];
    for (const { ref, path } of refs) {
      const pool = findPool(o, ref, POOL_GROUP);
      if (pool) found.push(pool);
      else missing.push({ object: `InferenceObjective/${o.name}`, path, message: `InferencePool "${ref.name}" does not exist` });
    }
    errors.push(...missing);
    set(o, missing.length ? { type: 'ResolvedRefs', status: 'False', reason: 'PoolNotFound', message: missing.map((p) => `${p.path}: ${p.message}`).join('; ') } : resolved());
    return missing.length ? undefined : found;
  }

  /**
   * A poolRef's pool: of its group — given, or the API's default (GIE's and llm-d's PoolObjectReference:
   * inference.networking.k8s.io; InferenceModel's, x-k8s) — or, when that group has no pool of the name,
   * the other group's: which group matters only when both have the name (an InferenceModel of the older API
   * commonly names a pool already moved to v1, and the API server writes the default group into it).
   */
  function findPool(o: ParsedObject, ref: { name: string; group?: string }, defaultGroup: string): string | undefined {
    return poolIndex.preferring(o.namespace, ref.name, ref.group || defaultGroup)?.tableName;
  }

  function resolvePool(o: ParsedObject, ref: { name: string; group?: string }, path: string, defaultGroup: string): string | undefined {
    const pool = ref.name;
    const name = findPool(o, ref, defaultGroup);
    const problems = name ? [] : [{ object: `${o.kind}/${o.name}`, path, message: `InferencePool "${pool}" does not exist` }];
    errors.push(...problems);
    set(o, problems.length ? { type: 'ResolvedRefs', status: 'False', reason: 'PoolNotFound', message: problems.map((p) => `${p.path}: ${p.message}`).join('; ') } : resolved());
    return name;
  }
}

function convertPool(o: Of<PoolV1Object | PoolV1Alpha2Object>, name: string): Pools[number] {
  const profile = (o.value.metadata.annotations ?? {})[PROFILE_ANNOTATION];
  if (o.apiVersion === 'inference.networking.k8s.io/v1') {
    const spec = (o.value as PoolV1Object).spec;
    return {
      name,
      selector: spec.selector.matchLabels,
      targetPorts: spec.targetPorts.map((p) => p.number),
      appProtocol: spec.appProtocol === 'kubernetes.io/h2c' ? 'h2c' : 'http',
      failureMode: spec.endpointPickerRef?.failureMode ?? 'FailClose',
      profile,
    };
  }
  const spec = (o.value as PoolV1Alpha2Object).spec;
  return {
    name,
    selector: spec.selector,
    targetPorts: [spec.targetPortNumber],
    failureMode: spec.extensionRef?.failureMode ?? 'FailClose',
    profile,
  };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Older first; objects without a creationTimestamp are new, so younger than any that has one. */
function age(o: ParsedObject): number {
  const ts = (o.value.metadata as { creationTimestamp?: string | Date }).creationTimestamp;
  const t = ts instanceof Date ? ts.getTime() : ts ? Date.parse(ts) : NaN;
  return Number.isFinite(t) ? t : Number.MAX_SAFE_INTEGER;
}
