/**
 * Which routing objects are this gateway's, and who their parents are.
 * With `--gateway-class NAME`: the Gateways of that class, and the HTTPRoutes
 * whose parentRefs name one of them (Gateway API: a route attaches to a
 * Gateway through parentRefs; a Gateway belongs to the controller of its
 * class). Without it: every HTTPRoute that sends traffic to an InferencePool
 * (a route to Services belongs to some other gateway). Pools, objectives,
 * rewrites and models are read whole either way: what reaches them is decided
 * by the routes.
 */
import * as v from 'valibot';
import { objectKey, type KubeObject } from './port.ts';
import { DEFAULT_PARENT, type ParentRef } from './status.ts';
import { GATEWAY_GROUP } from './resources.ts';
import { POOL_GROUP } from '../routing/references.ts';

const Ref = v.looseObject({ group: v.optional(v.string()), kind: v.optional(v.string()), name: v.string(), namespace: v.optional(v.string()), sectionName: v.optional(v.string()) });
const RouteFields = v.looseObject({
  spec: v.optional(
    v.looseObject({
      parentRefs: v.optional(v.array(Ref), []),
      rules: v.optional(v.array(v.looseObject({ backendRefs: v.optional(v.array(Ref), []) })), []),
    }),
    {},
  ),
});
const GatewayFields = v.looseObject({ spec: v.optional(v.looseObject({ gatewayClassName: v.optional(v.string()) }), {}) });

export interface Ownership {
  /**
   * Our objects, sorted by key: a stable order for the conversion, whatever order the informers
   * delivered them in (route precedence does not come from it: the conversion orders HTTPRoutes
   * by creationTimestamp, then {namespace}/{name}, as the Gateway API says).
   */
  objects: KubeObject[];
  /** Each of our routes' parents (by object key). */
  routeParents: Map<string, ParentRef[]>;
  /** Each pool's parents (by `poolParentsKey`), as an InferencePool status names them. */
  poolParents: Map<string, ParentRef[]>;
}

/** The key of an InferencePool among `poolParents`: its group is part of it (a v1 and an alpha pool may share a name). */
export function poolParentsKey(group: string, namespace: string, name: string): string {
  return `${group}/${namespace}/${name}`;
}

const isGatewayRef = (r: v.InferOutput<typeof Ref>) => (r.kind ?? 'Gateway') === 'Gateway' && (r.group ?? GATEWAY_GROUP) === GATEWAY_GROUP;

export function ownObjects(all: Iterable<KubeObject>, gatewayClass: string | undefined): Ownership {
  const objects: KubeObject[] = [];
  const gateways = new Set<string>();
  const list = [...all].sort((a, b) => (objectKey(a) < objectKey(b) ? -1 : 1));
  for (const o of list) {
    if (o.kind !== 'Gateway') continue;
    const g = v.safeParse(GatewayFields, o);
    if (gatewayClass && g.success && g.output.spec.gatewayClassName === gatewayClass) {
      gateways.add(`${o.metadata.namespace ?? 'default'}/${o.metadata.name}`);
      objects.push(o);
    }
  }
  const routeParents = new Map<string, ParentRef[]>();
  const poolParents = new Map<string, ParentRef[]>();
  for (const o of list) {
    if (o.kind === 'Gateway') continue;
    if (o.kind !== 'HTTPRoute') {
      objects.push(o);
      continue;
    }
    const route = v.safeParse(RouteFields, o);
    const ns = o.metadata.namespace ?? 'default';
    const spec = route.success ? route.output.spec : { parentRefs: [], rules: [] };
    const backends = spec.rules.flatMap((r) => r.backendRefs).filter((b) => b.kind === 'InferencePool');
    let parents: ParentRef[];
    if (gatewayClass) {
      parents = spec.parentRefs.filter((r) => isGatewayRef(r) && gateways.has(`${r.namespace ?? ns}/${r.name}`));
      if (parents.length === 0) continue;
    } else {
      // An invalid route is ours if it looks like one (so its status can say what is wrong).
      if (route.success && backends.length === 0) continue;
      parents = spec.parentRefs.length ? spec.parentRefs : [DEFAULT_PARENT];
    }
    objects.push(o);
    routeParents.set(objectKey(o), parents);
    for (const b of backends) {
      // A group-less ref (the API server writes the core group into one) is read as the GA group, as the conversion reads it.
      const key = poolParentsKey(b.group || POOL_GROUP, b.namespace ?? ns, b.name);
      const refs = poolParents.get(key) ?? [];
      for (const p of parents) {
        const ref: ParentRef = p === DEFAULT_PARENT ? DEFAULT_PARENT : { group: GATEWAY_GROUP, kind: 'Gateway', name: p.name, namespace: p.namespace ?? ns };
        if (!refs.some((r) => r.name === ref.name && r.kind === ref.kind && r.namespace === ref.namespace)) refs.push(ref);
      }
      poolParents.set(key, refs);
    }
  }
  return { objects, routeParents, poolParents };
}
