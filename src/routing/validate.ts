/**
 * Validate a routing table as a whole: its shape (valibot) and its references
 * (routes to pools, models to pools, unique names, regexes that compile).
 * A table with any problem is rejected whole.
 */
import * as v from 'valibot';
import { RoutingTable, type RoutingTableInput } from './schema.ts';
import { issuePath, type Problem } from './problems.ts';

export type Validation = { ok: true; table: RoutingTable } | { ok: false; problems: Problem[] };

const sections = { routes: 'Route', pools: 'Pool', models: 'Model', objectives: 'Objective', rewrites: 'Rewrite', budgets: 'TokenBudget' } as const;

export function validateTable(input: unknown): Validation {
  const parsed = v.safeParse(RoutingTable, input);
  if (!parsed.success) return { ok: false, problems: parsed.issues.map(shapeProblem(input)) };
  const table = parsed.output;
  const problems: Problem[] = [];

  const pools = new Set<string>();
  table.pools.forEach((pool, i) => {
    if (pools.has(pool.name)) problems.push({ object: `Pool/${pool.name}`, path: `pools[${i}].name`, message: 'another pool already has this name' });
    pools.add(pool.name);
  });

  const routeNames = new Set<string>();
  table.routes.forEach((route, i) => {
    const object = `Route/${route.name}`;
    if (routeNames.has(route.name)) problems.push({ object, path: `routes[${i}].name`, message: 'another route already has this name' });
    routeNames.add(route.name);
    route.rules.forEach((rule, r) => {
      // Every weight 0 is valid: it drains the rule, whose requests then get 500 (Gateway API BackendRef.weight:
      // "no traffic should be forwarded for this entry"; HTTPRouteRule.backendRefs: no valid backend → 500).
      if (rule.backendRefs.length === 0) problems.push({ object, path: `rules[${r}].backendRefs`, message: 'needs at least one backendRef' });
      rule.backendRefs.forEach((ref, b) => {
        if (ref.unresolved !== undefined) return;
        if (ref.pool === undefined) problems.push({ object, path: `rules[${r}].backendRefs[${b}].pool`, message: 'is required (or unresolved, saying why the reference does not resolve)' });
        else if (!pools.has(ref.pool)) problems.push({ object, path: `rules[${r}].backendRefs[${b}].pool`, message: `pool "${ref.pool}" does not exist` });
      });
      rule.matches.forEach((match, m) => {
        const check = (list: { type: string; value: string }[], field: string) =>
          list.forEach((h, k) => {
            if (h.type !== 'RegularExpression') return;
            try {
              new RegExp(h.value);
            } catch (err) {
              problems.push({ object, path: `rules[${r}].matches[${m}].${field}[${k}].value`, message: `invalid regular expression: ${(err as Error).message}` });
            }
          });
        check(match.headers, 'headers');
        check(match.queryParams, 'queryParams');
      });
    });
  });

  const modelKeys = new Set<string>();
  table.models.forEach((model, i) => {
    const object = `Model/${model.name}`;
    if (!pools.has(model.pool)) problems.push({ object, path: `models[${i}].pool`, message: `pool "${model.pool}" does not exist` });
    const key = `${model.pool}\u0000${model.name}`;
    if (modelKeys.has(key)) problems.push({ object, path: `models[${i}].name`, message: `pool "${model.pool}" already serves a model with this name` });
    modelKeys.add(key);
    if (model.targetModels.length > 0 && model.targetModels.every((t) => t.weight === 0)) {
      problems.push({ object, path: `models[${i}].targetModels`, message: 'every weight is 0, so no target can be chosen' });
    }
  });

  // Objectives and rewrites are named within their pool (the header names an objective of the pool the request reached).
  const objectives = new Set<string>();
  table.objectives.forEach((o, i) => {
    const object = `Objective/${o.name}`;
    if (!pools.has(o.pool)) problems.push({ object, path: `objectives[${i}].pool`, message: `pool "${o.pool}" does not exist` });
    const key = `${o.pool}\u0000${o.name}`;
    if (objectives.has(key)) problems.push({ object, path: `objectives[${i}].name`, message: `pool "${o.pool}" already has an objective with this name` });
    objectives.add(key);
  });

  const rewrites = new Set<string>();
  table.rewrites.forEach((w, i) => {
    const object = `Rewrite/${w.name}`;
    if (!pools.has(w.pool)) problems.push({ object, path: `rewrites[${i}].pool`, message: `pool "${w.pool}" does not exist` });
    const key = `${w.pool}\u0000${w.name}`;
    if (rewrites.has(key)) problems.push({ object, path: `rewrites[${i}].name`, message: `pool "${w.pool}" already has a rewrite with this name` });
    rewrites.add(key);
    w.rules.forEach((rule, r) => {
      if (rule.targets.every((t) => t.weight === 0)) problems.push({ object, path: `rewrites[${i}].rules[${r}].targets`, message: 'every weight is 0, so no target can be chosen' });
    });
  });

  // One budget per tenant (the manifests keep the older of two; a table pushed whole must not have two).
  const tenants = new Set<string>();
  table.budgets.forEach((b, i) => {
    const object = `TokenBudget/${b.name}`;
    if (tenants.has(b.tenant)) problems.push({ object, path: `budgets[${i}].tenant`, message: `tenant "${b.tenant}" already has a budget` });
    tenants.add(b.tenant);
    if (b.tokensPerMinute === 0 && b.maxConcurrentRequests === 0) problems.push({ object, path: `budgets[${i}]`, message: 'limits nothing: set tokensPerMinute, maxConcurrentRequests or both' });
  });

  return problems.length ? { ok: false, problems } : { ok: true, table };
}

/** Name the object an issue belongs to, from the first two path segments. */
function shapeProblem(input: unknown) {
  return (issue: v.BaseIssue<unknown>): Problem => {
    const path = issuePath(issue);
    const first = issue.path?.[0]?.key;
    const index = issue.path?.[1]?.key;
    let object = 'RoutingTable';
    if (typeof first === 'string' && first in sections && typeof index === 'number') {
      const list = (input as Record<string, unknown>)[first];
      const item = Array.isArray(list) ? (list[index] as { name?: unknown } | undefined) : undefined;
      const name = typeof item?.name === 'string' ? item.name : `#${index}`;
      object = `${sections[first as keyof typeof sections]}/${name}`;
    }
    return { object, path, message: issue.message };
  };
}

export type { RoutingTableInput };
