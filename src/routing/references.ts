/**
 * Names and references of namespaced objects, resolved the way Kubernetes
 * resolves them: a reference without a namespace means the referrer's own.
 * In the routing table an object is named `name` in the `default` namespace
 * and `namespace/name` elsewhere, so names stay unique across namespaces and
 * tables written by hand keep their plain names.
 */
import type { LabelSelectorValue } from './manifest-kinds.ts';

export const DEFAULT_NAMESPACE = 'default';

/** The table's name for a namespaced object. */
export function tableName(namespace: string, name: string): string {
  return namespace === DEFAULT_NAMESPACE ? name : `${namespace}/${name}`;
}

/** The key of a namespaced object among others of its kind. */
export function nsKey(namespace: string, name: string): string {
  return `${namespace}/${name}`;
}

/** InferencePool's API groups: GIE's GA group, and the alpha group it replaces (still served during the migration). */
export const POOL_GROUP = 'inference.networking.k8s.io';
export const POOL_GROUP_ALPHA = 'inference.networking.x-k8s.io';
export const POOL_GROUPS: ReadonlySet<string> = new Set([POOL_GROUP, POOL_GROUP_ALPHA]);

/** The API group of an apiVersion (`group/version`; '' for the core `v1`). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf('/');
  return slash < 0 ? '' : apiVersion.slice(0, slash);
}

export interface PoolEntry {
  namespace: string;
  name: string;
  group: string;
  /** Its name in the routing table (see PoolIndex). */
  tableName: string;
  labels: Record<string, string>;
}

/**
 * The InferencePools by identity: group, namespace and name. GIE's GA
 * migration runs a v1 pool (inference.networking.k8s.io) beside the alpha
 * one (inference.networking.x-k8s.io) under the same name and splits traffic
 * between them with the backendRefs' `group`, so the two are two pools.
 * Their table names stay the plain `tableName` — names users see in metrics,
 * /v1/models and the admin API — unless both groups have the name; then the
 * alpha pool's becomes `<tableName>@inference.networking.x-k8s.io` ('@' is in
 * no Kubernetes name, so it cannot collide), and the GA pool, the one that
 * stays after the migration, keeps the plain name.
 */
export class PoolIndex {
  readonly #pools = new Map<string, PoolEntry>();

  constructor(pools: readonly Omit<PoolEntry, 'tableName'>[]) {
    const groups = new Map<string, number>();
    for (const p of pools) groups.set(nsKey(p.namespace, p.name), (groups.get(nsKey(p.namespace, p.name)) ?? 0) + 1);
    for (const p of pools) {
      const plain = tableName(p.namespace, p.name);
      const both = groups.get(nsKey(p.namespace, p.name))! > 1;
      this.#pools.set(`${p.group}/${nsKey(p.namespace, p.name)}`, { ...p, tableName: both && p.group === POOL_GROUP_ALPHA ? `${plain}@${POOL_GROUP_ALPHA}` : plain });
    }
  }

  get(namespace: string, name: string, group: string): PoolEntry | undefined {
    return this.#pools.get(`${group}/${nsKey(namespace, name)}`);
  }

  /**
   * The pool of `group` (the GA group when `group` is no pool group, as llm-d's `llm-d.ai` poolRef default),
   * or, when that group has none of the name, the other group's (see its callers for when that is wanted).
   */
  preferring(namespace: string, name: string, group: string): PoolEntry | undefined {
    const first = group === POOL_GROUP_ALPHA ? POOL_GROUP_ALPHA : POOL_GROUP;
    return this.get(namespace, name, first) ?? this.get(namespace, name, first === POOL_GROUP ? POOL_GROUP_ALPHA : POOL_GROUP);
  }

  all(): PoolEntry[] {
    return [...this.#pools.values()];
  }
}

/** Whether labels satisfy a Kubernetes label selector (matchLabels and matchExpressions, ANDed; empty matches everything). */
export function selectorMatches(selector: LabelSelectorValue, labels: Record<string, string>): boolean {
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) if (labels[k] !== v) return false;
  for (const e of selector.matchExpressions ?? []) {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    const values = e.values ?? [];
    switch (e.operator) {
      case 'In':
        if (!has || !values.includes(labels[e.key]!)) return false;
        break;
      case 'NotIn':
        if (has && values.includes(labels[e.key]!)) return false;
        break;
      case 'Exists':
        if (!has) return false;
        break;
      case 'DoesNotExist':
        if (has) return false;
        break;
    }
  }
  return true;
}
