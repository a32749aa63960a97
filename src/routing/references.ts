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
