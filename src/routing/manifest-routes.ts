/**
 * HTTPRoutes → the table's routes, resolved as the Gateway API resolves them:
 * each parentRef against the Gateways of the import and their listeners
 * (sectionName, port, protocol, allowedRoutes, hostname intersection); each
 * backendRef in the route's namespace unless it names another, which then
 * needs a ReferenceGrant there. A Gateway not among the objects is taken to
 * be this gateway itself: the route is served on its listener, and its status
 * says so. Status per parent, with the Gateway API's condition reasons.
 *
 * A backendRef that does not resolve stays in its rule, as a backend that
 * answers 500 (its share of the weighted draw), and so does a rule without
 * backendRefs: Gateway API HTTPRouteRule.backendRefs — traffic a rule would
 * send to an invalid backendRef MUST get 500, never another route's backend.
 */
import { intersectHostnames } from './hostnames.ts';
import type { GatewayObject, HTTPRouteObject, LabelSelectorValue, ReferenceGrantObject } from './manifest-kinds.ts';
import { accepted, CONTROLLER_NAME, resolved, type Condition, type ParentRef, type ParentStatus } from './object-status.ts';
import type { Problem } from './problems.ts';
import { nsKey, POOL_GROUP, POOL_GROUPS, selectorMatches, tableName, type PoolIndex } from './references.ts';
import type { RoutingTableInput } from './schema.ts';
import type { ParsedObject } from './manifest-convert.ts';

type Routes = NonNullable<RoutingTableInput['routes']>;
type Of<T> = ParsedObject & { value: T };

const GATEWAY_GROUP = 'gateway.networking.k8s.io';

export interface RouteInputs {
  routes: Of<HTTPRouteObject>[];
  gateways: Of<GatewayObject>[];
  grants: Of<ReferenceGrantObject>[];
  /** Labels of the namespaces the import defines (for allowedRoutes selectors). */
  namespaceLabels: Map<string, Record<string, string>>;
  /** The InferencePools, by group, namespace and name. */
  pools: PoolIndex;
}

export interface RouteOutcome {
  routes: Routes;
  errors: Problem[];
  warnings: Problem[];
  /** Per HTTPRoute (parsed object): its own conditions and per-parent status. */
  status: Map<ParsedObject, { conditions: Condition[]; parents: ParentStatus[] }>;
  /** Per pool table name: the Gateways whose accepted routes send it traffic. */
  poolParents: Map<string, ParentRef[]>;
}

export function convertRoutes(input: RouteInputs): RouteOutcome {
  const out: RouteOutcome = { routes: [], errors: [], warnings: [], status: new Map(), poolParents: new Map() };
  const gateways = new Map(input.gateways.map((g) => [nsKey(g.namespace, g.name), g]));
  for (const o of input.routes) {
    const object = `HTTPRoute/${o.name}`;
    const ns = o.namespace;
    const spec = o.value.spec;
    const unresolved: Problem[] = [];
    const unsupported: Problem[] = [];
    const pools = new Set<string>();
    const rules = (spec.rules ?? []).map((rule, r) => {
      if (!rule.backendRefs?.length) {
        out.warnings.push({ object, path: `spec.rules[${r}].backendRefs`, message: 'is empty: requests this rule matches are answered 500 (Gateway API: a rule with no backendRefs and no filters answers 500)' });
      }
      if (rule.filters?.length) {
        const types = [...new Set(rule.filters.map((f) => f.type ?? '?'))].join(', ');
        unsupported.push({ object, path: `spec.rules[${r}].filters`, message: `infergate does not apply HTTPRoute filters (${types}); remove them, or serve this rule with another gateway` });
      }
      const request = rule.timeouts?.request;
      return {
        matches: (rule.matches ?? [{}]).map((m) => ({
          path: { type: m.path?.type ?? 'PathPrefix', value: m.path?.value ?? '/' },
          headers: (m.headers ?? []).map((h) => ({ type: h.type ?? 'Exact', name: h.name, value: h.value })),
          queryParams: (m.queryParams ?? []).map((q) => ({ type: q.type ?? 'Exact', name: q.name, value: q.value })),
          ...(m.method ? { method: m.method } : {}),
        })),
        backendRefs: rule.backendRefs?.length
          ? rule.backendRefs.map((ref, b) => {
              const path = `spec.rules[${r}].backendRefs[${b}]`;
              const kind = ref.kind ?? 'Service';
              const group = ref.group ?? '';
              const target = ref.namespace ?? ns;
              const weight = ref.weight ?? 1;
              // Kept with the name it asked for (when it asks for a pool), so that `get routes` shows it.
              const invalid = (problem: Problem) => {
                unresolved.push(problem);
                return { ...(kind === 'InferencePool' ? { pool: tableName(target, ref.name) } : {}), weight, unresolved: `${problem.path}: ${problem.message}` };
              };
              if (kind !== 'InferencePool' || (ref.group !== undefined && !POOL_GROUPS.has(group))) {
                return invalid({ object, path: `${path}.kind`, message: `"${group ? `${kind}.${group}` : kind}" is not supported: backendRefs must be of kind InferencePool (group inference.networking.k8s.io)` });
              }
              // The group names the pool: a GA migration splits traffic between a v1 and an alpha pool of one name by it.
              // Without one (only in a file: the API server defaults it to the core group, which has no InferencePool)
              // the GA pool is taken, else the alpha one, as before groups told pools apart.
              const pool = ref.group !== undefined ? input.pools.get(target, ref.name, ref.group) : input.pools.preferring(target, ref.name, POOL_GROUP);
              if (target !== ns && !granted(input.grants, target, ns, ref.name, pool?.group ?? ref.group ?? POOL_GROUP)) {
                return invalid({ object, path: `${path}.namespace`, message: `InferencePool "${ref.name}" is in namespace "${target}": a ReferenceGrant there must allow HTTPRoutes of "${ns}" to refer to it` });
              }
              if (!pool) {
                const other = ref.group !== undefined ? input.pools.preferring(target, ref.name, ref.group) : undefined;
                const where = target !== ns ? ` in namespace "${target}"` : '';
                const message = other
                  ? `InferencePool "${ref.name}" of group ${ref.group} does not exist${where} (one of group ${other.group} does: set group to ${other.group} to send it this traffic)`
                  : `InferencePool "${ref.name}" does not exist${where}`;
                return invalid({ object, path: `${path}.${other ? 'group' : 'name'}`, message });
              }
              pools.add(pool.tableName);
              return { pool: pool.tableName, weight };
            })
          : [{ weight: 1, unresolved: `spec.rules[${r}].backendRefs: the rule has none` }],
        ...(request !== undefined ? { requestTimeoutMs: durationMs(request) } : {}),
      };
    });
    out.errors.push(...unresolved, ...unsupported);
    const refs = resolvedCondition(unresolved);

    const attachments: string[][] = [];
    const parents: ParentStatus[] = [];
    const routeHostnames = spec.hostnames ?? [];
    if ((spec.parentRefs ?? []).length === 0) attachments.push(routeHostnames);
    for (const p of spec.parentRefs ?? []) {
      const parentRef: ParentRef = { group: p.group ?? GATEWAY_GROUP, kind: p.kind ?? 'Gateway', namespace: p.namespace ?? ns, name: p.name, ...(p.sectionName ? { sectionName: p.sectionName } : {}) };
      const attach = attachTo(parentRef, p.port, gateways.get(nsKey(parentRef.namespace, p.name)), ns, routeHostnames, input.namespaceLabels);
      if (attach.hostnames) attachments.push(attach.hostnames);
      parents.push({ parentRef, controllerName: CONTROLLER_NAME, conditions: [attach.condition, refs] });
      if (attach.hostnames) for (const pool of pools) out.poolParents.set(pool, [...(out.poolParents.get(pool) ?? []), parentRef]);
    }
    const acceptedCondition = parents.find((x) => x.conditions[0]!.status === 'True')?.conditions[0] ?? parents[0]?.conditions[0] ?? accepted();
    if (unsupported.length) {
      out.status.set(o, { conditions: [{ type: 'Accepted', status: 'False', reason: 'UnsupportedValue', message: unsupported.map((u) => `${u.path}: ${u.message}`).join('; ') }, refs], parents });
      continue;
    }
    out.status.set(o, { conditions: [acceptedCondition, refs], parents });
    if (attachments.length === 0) {
      out.warnings.push({ object, path: 'spec.parentRefs', message: `attaches to no listener, so it serves no traffic: ${acceptedCondition.message}` });
      continue;
    }
    // Served on the union of its listeners' hostnames; any listener without a hostname restriction opens every host.
    const hostnames = attachments.some((h) => h.length === 0) ? [] : [...new Set(attachments.flat())];
    out.routes.push({ name: tableName(ns, o.name), hostnames, rules });
  }
  return out;
}

function attachTo(
  ref: ParentRef,
  port: number | undefined,
  gateway: Of<GatewayObject> | undefined,
  routeNamespace: string,
  routeHostnames: string[],
  namespaceLabels: Map<string, Record<string, string>>,
): { condition: Condition; hostnames?: string[] } {
  const refused = (reason: string, message: string) => ({ condition: { type: 'Accepted', status: 'False', reason, message } as Condition });
  if (ref.kind !== 'Gateway' || ref.group !== GATEWAY_GROUP) return refused('NoMatchingParent', `parentRef ${ref.kind}.${ref.group} is not supported: routes attach to Gateways`);
  if (!gateway) {
    return {
      condition: accepted(`Gateway ${ref.namespace}/${ref.name} is not among the applied objects: the route is served on this gateway's own listener`),
      hostnames: routeHostnames,
    };
  }
  const listeners = (gateway.value.spec?.listeners ?? []).filter((l) => (!ref.sectionName || l.name === ref.sectionName) && (port === undefined || l.port === port));
  if (listeners.length === 0) {
    const which = [ref.sectionName ? `named "${ref.sectionName}"` : '', port !== undefined ? `on port ${port}` : ''].filter(Boolean).join(' ');
    return refused('NoMatchingParent', `Gateway ${ref.namespace}/${ref.name} has no listener ${which || 'at all'}`);
  }
  const why: string[] = [];
  const hostnames: string[][] = [];
  let allowed = 0;
  for (const l of listeners) {
    const notAllowed = listenerRefuses(l, gateway.namespace, routeNamespace, namespaceLabels);
    if (notAllowed) {
      why.push(`listener "${l.name}": ${notAllowed}`);
      continue;
    }
    allowed++;
    const h = intersectHostnames(routeHostnames, l.hostname);
    if (h) hostnames.push(h);
    else why.push(`listener "${l.name}" accepts only host ${l.hostname}, which none of the route's hostnames (${routeHostnames.join(', ')}) matches`);
  }
  if (allowed === 0) return refused('NotAllowedByListeners', why.join('; '));
  if (hostnames.length === 0) return refused('NoMatchingListenerHostname', why.join('; '));
  return { condition: accepted(), hostnames: hostnames.some((h) => h.length === 0) ? [] : [...new Set(hostnames.flat())] };
}

type Listener = NonNullable<NonNullable<GatewayObject['spec']>['listeners']>[number];

function listenerRefuses(l: Listener, gatewayNamespace: string, routeNamespace: string, namespaceLabels: Map<string, Record<string, string>>): string | undefined {
  const protocol = l.protocol ?? 'HTTP';
  if (protocol !== 'HTTP' && protocol !== 'HTTPS') return `protocol ${protocol} does not carry HTTPRoutes`;
  const kinds = l.allowedRoutes?.kinds;
  if (kinds && !kinds.some((k) => k.kind === 'HTTPRoute' && (k.group ?? GATEWAY_GROUP) === GATEWAY_GROUP)) return 'allowedRoutes.kinds does not include HTTPRoute';
  const from = l.allowedRoutes?.namespaces?.from ?? 'Same';
  if (from === 'Same' && routeNamespace !== gatewayNamespace) return `allows routes of its own namespace "${gatewayNamespace}" only (allowedRoutes.namespaces.from: Same)`;
  if (from === 'Selector') {
    const selector: LabelSelectorValue = l.allowedRoutes?.namespaces?.selector ?? {};
    // Kubernetes labels every namespace with its own name.
    const labels = { 'kubernetes.io/metadata.name': routeNamespace, ...(namespaceLabels.get(routeNamespace) ?? {}) };
    if (!selectorMatches(selector, labels)) return `namespace "${routeNamespace}" does not match allowedRoutes.namespaces.selector`;
  }
  return undefined;
}

/** A ReferenceGrant in the pool's namespace lets HTTPRoutes of `from` refer to InferencePool `name` of `group`. */
function granted(grants: Of<ReferenceGrantObject>[], poolNamespace: string, from: string, name: string, group: string): boolean {
  return grants.some(
    (g) =>
      g.namespace === poolNamespace &&
      g.value.spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === 'HTTPRoute' && f.namespace === from) &&
      g.value.spec.to.some((t) => t.group === group && t.kind === 'InferencePool' && (!t.name || t.name === name)),
  );
}

function resolvedCondition(problems: Problem[]): Condition {
  if (problems.length === 0) return resolved();
  const reason = problems.some((p) => p.path.endsWith('.kind')) ? 'InvalidKind' : problems.some((p) => p.path.endsWith('.namespace')) ? 'RefNotPermitted' : 'BackendNotFound';
  const message = problems.map((p) => `${p.path}: ${p.message}`).join('; ');
  return { type: 'ResolvedRefs', status: 'False', reason, message: `${message}; the requests drawn to ${problems.length > 1 ? 'these backendRefs' : 'this backendRef'} are answered 500` };
}

/** A Gateway API duration (`1h30m`, `500ms`) in ms. */
export function durationMs(text: string): number {
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(n) * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1000 : 1);
  return ms;
}
