/**
 * A validated routing table turned into what the hot path needs: route rules
 * in precedence order with compiled regexes, and O(1) model look-ups.
 */
import type { Model, Objective, Pool, RoutingTable } from './schema.ts';

export interface CompiledMatch {
  pathType: 'Exact' | 'PathPrefix';
  path: string;
  headers: { name: string; exact?: string; regex?: RegExp }[];
}

export interface CompiledRule {
  route: string;
  ruleIndex: number;
  match: CompiledMatch;
  backends: { pool: Pool; weight: number }[];
  totalWeight: number;
}

export interface CompiledTable {
  version: number;
  source: RoutingTable;
  /** One entry per (rule, match), sorted by Gateway API precedence. */
  rules: CompiledRule[];
  pools: Map<string, Pool>;
  /** pool name → model name → model. */
  models: Map<string, Map<string, Model>>;
  /** Every model name served, for `/v1/models`. */
  modelNames: string[];
  objectives: Map<string, Objective>;
}

export function compileTable(table: RoutingTable): CompiledTable {
  const pools = new Map(table.pools.map((p) => [p.name, p]));
  const rules: CompiledRule[] = [];
  let order = 0;
  const orderOf = new Map<CompiledRule, number>();
  for (const route of table.routes) {
    route.rules.forEach((rule, ruleIndex) => {
      const backends = rule.backendRefs.flatMap((b) => {
        const pool = pools.get(b.pool);
        return pool && b.weight > 0 ? [{ pool, weight: b.weight }] : [];
      });
      const totalWeight = backends.reduce((s, b) => s + b.weight, 0);
      for (const m of rule.matches) {
        const compiled: CompiledRule = {
          route: route.name,
          ruleIndex,
          match: {
            pathType: m.path.type,
            path: m.path.value,
            headers: m.headers.map((h) =>
              h.type === 'RegularExpression'
                ? { name: h.name.toLowerCase(), regex: new RegExp(`^(?:${h.value})$`) }
                : { name: h.name.toLowerCase(), exact: h.value },
            ),
          },
          backends,
          totalWeight,
        };
        orderOf.set(compiled, order++);
        rules.push(compiled);
      }
    });
  }
  // Gateway API precedence: exact path over prefix, longer path, more header
  // matches, then the order the rules were written in.
  rules.sort((a, b) => {
    if (a.match.pathType !== b.match.pathType) return a.match.pathType === 'Exact' ? -1 : 1;
    if (a.match.path.length !== b.match.path.length) return b.match.path.length - a.match.path.length;
    if (a.match.headers.length !== b.match.headers.length) return b.match.headers.length - a.match.headers.length;
    return orderOf.get(a)! - orderOf.get(b)!;
  });

  const models = new Map<string, Map<string, Model>>();
  const names = new Set<string>();
  for (const model of table.models) {
    let byName = models.get(model.pool);
    if (!byName) models.set(model.pool, (byName = new Map()));
    byName.set(model.name, model);
    names.add(model.name);
  }
  const objectives = new Map(table.objectives.map((o) => [o.name, o]));
  return { version: table.version, source: table, rules, pools, models, modelNames: [...names].sort(), objectives };
}

/** The first rule (in precedence order) matching the path and headers. */
export function matchRule(table: CompiledTable, path: string, header: (lowerCaseName: string) => string | null): CompiledRule | undefined {
  outer: for (const rule of table.rules) {
    const m = rule.match;
    if (m.pathType === 'Exact' ? path !== m.path : !pathHasPrefix(path, m.path)) continue;
    for (const h of m.headers) {
      const value = header(h.name);
      if (value === null) continue outer;
      if (h.exact !== undefined ? value !== h.exact : !h.regex!.test(value)) continue outer;
    }
    return rule;
  }
  return undefined;
}

/** Gateway API PathPrefix matches whole path elements: `/v1` matches `/v1/x`, not `/v1x`. */
function pathHasPrefix(path: string, prefix: string): boolean {
  if (prefix === '/') return true;
  const p = prefix.endsWith('/') ? prefix.slice(0, -1) : prefix;
  return path === p || path.startsWith(p + '/');
}

/** Weighted draw; `random` returns [0,1). */
export function drawWeighted<T extends { weight: number }>(items: readonly T[], total: number, random: () => number): T | undefined {
  if (items.length <= 1) return items[0];
  let x = random() * total;
  for (const item of items) {
    x -= item.weight;
    if (x < 0) return item;
  }
  return items[items.length - 1];
}
