/**
 * HTTPRoutes → the table's routes, resolved as the Gateway API resolves them:
 * each parentRef against the Gateways of the import and their listeners
 * (sectionName, port, protocol, allowedRoutes, hostname intersection); each
 * backendRef in the route's namespace unless it names another, which then
 * needs a ReferenceGrant there. A Gateway not among the objects is taken to
 * be this gateway itself: the route is served on its listener, and its status
 * says so. Status per parent, with the Gateway API's condition reasons.
 */
import { intersectHostnames } from './hostnames.ts';
import type { GatewayObject, HTTPRouteObject, LabelSelectorValue, ReferenceGrantObject } from './manifest-kinds.ts';
import { accepted, CONTROLLER_NAME, resolved, type Condition, type ParentRef, type ParentStatus } from './object-status.ts';
import type { Problem } from './problems.ts';
import { nsKey, selectorMatches, tableName } from './references.ts';
import type { RoutingTableInput } from './schema.ts';
import type { ParsedObject } from './manifest-convert.ts';

type Routes = NonNullable<RoutingTableInput['routes']>;
type Of<T> = ParsedObject & { value: T };

const GATEWAY_GROUP = 'gateway.networking.k8s.io';
const POOL_GROUPS = new Set(['inference.networking.k8s.io', 'inference.networking.x-k8s.io']);

export interface RouteInputs {
  routes: Of<HTTPRouteObject>[];
  gateways: Of<GatewayObject>[];
  grants: Of<ReferenceGrantObject>[];
  /** Labels of the namespaces the import defines (for allowedRoutes selectors). */
  namespaceLabels: Map<string, Record<string, string>>;
  /** `namespace/name` of each InferencePool → its table name. */
  pools: Map<string, string>;
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
        backendRefs: (rule.backendRefs ?? []).flatMap((ref, b) => {
          const path = `spec.rules[${r}].backendRefs[${b}]`;
          const kind = ref.kind ?? 'Service';
          const group = ref.group ?? '';
          if (kind !== 'InferencePool' || (ref.group !== undefined && !POOL_GROUPS.has(group))) {
            unresolved.push({ object, path: `${path}.kind`, message: `"${group ? `${kind}.${group}` : kind}" is not supported: backendRefs must be of kind InferencePool (group inference.networking.k8s.io)` });
            return [];
          }
          const target = ref.namespace ?? ns;
          if (target !== ns && !granted(input.grants, target, ns, ref.name)) {
            unresolved.push({ object, path: `${path}.namespace`, message: `InferencePool "${ref.name}" is in namespace "${target}": a ReferenceGrant there must allow HTTPRoutes of "${ns}" to refer to it` });
            return [];
          }
          const pool = input.pools.get(nsKey(target, ref.name));
          if (!pool) {
            unresolved.push({ object, path: `${path}.name`, message: `InferencePool "${ref.name}" does not exist${target !== ns ? ` in namespace "${target}"` : ''}` });
            return [];
          }
          pools.add(pool);
          return [{ pool, weight: ref.weight ?? 1 }];
        }),
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
    out.routes.push({ name: tableName(ns, o.name), hostnames, rules: rules.filter((rule) => rule.backendRefs.length > 0) });
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

/** A ReferenceGrant in the pool's namespace lets HTTPRoutes of `from` refer to InferencePool `name`. */
function granted(grants: Of<ReferenceGrantObject>[], poolNamespace: string, from: string, name: string): boolean {
  return grants.some(
    (g) =>
      g.namespace === poolNamespace &&
      g.value.spec.from.some((f) => f.group === GATEWAY_GROUP && f.kind === 'HTTPRoute' && f.namespace === from) &&
      g.value.spec.to.some((t) => POOL_GROUPS.has(t.group) && t.kind === 'InferencePool' && (!t.name || t.name === name)),
  );
}

function resolvedCondition(problems: Problem[]): Condition {
  if (problems.length === 0) return resolved();
  const reason = problems.some((p) => p.path.endsWith('.kind')) ? 'InvalidKind' : problems.some((p) => p.path.endsWith('.namespace')) ? 'RefNotPermitted' : 'BackendNotFound';
  return { type: 'ResolvedRefs', status: 'False', reason, message: problems.map((p) => `${p.path}: ${p.message}`).join('; ') };
}

/** A Gateway API duration (`1h30m`, `500ms`) in ms. */
export function durationMs(text: string): number {
  let ms = 0;
  for (const [, n, unit] of text.matchAll(/([0-9]+)(ms|h|m|s)/g)) ms += Number(n) * (unit === 'h' ? 3_600_000 : unit === 'm' ? 60_000 : unit === 's' ? 1000 : 1);
  return ms;
}
