/**
 * A validated routing table turned into what the hot path needs: route rules
 * in precedence order with compiled regexes, and O(1) look-ups of models,
 * objectives and rewrites per pool.
 */
import { hostnameMatches, hostnameRank } from './hostnames.ts';
import type { Model, Objective, Pool, Rewrite, RewriteRule, RoutingTable, TokenBudget } from './schema.ts';

interface CompiledValueMatch {
  name: string;
  exact?: string;
  regex?: RegExp;
}

export interface CompiledMatch {
  pathType: 'Exact' | 'PathPrefix';
  path: string;
  headers: CompiledValueMatch[];
  queryParams: CompiledValueMatch[];
  method?: string;
  /** The hostname this entry serves (one entry per hostname of the route); unset: any host. */
  hostname?: string;
}

/** A backend of a rule: its pool, or why its reference does not resolve (drawn, it answers 500). */
export type CompiledBackend = { pool: Pool; weight: number; unresolved?: undefined } | { pool?: undefined; weight: number; unresolved: string };

export interface CompiledRule {
  route: string;
  ruleIndex: number;
  match: CompiledMatch;
  /** The backends with a weight above 0; none: the rule is drained, and its requests get 500. */
  backends: CompiledBackend[];
  totalWeight: number;
  /** HTTPRoute `timeouts.request`, ms (0: none). */
  requestTimeoutMs: number;
}

/** The rule of a rewrite a request matched, and the rewrite it belongs to. */
export interface RewriteChoice {
  rewrite: Rewrite;
  rule: RewriteRule;
  totalWeight: number;
}

export interface PoolRewrites {
  /** Requested model → the first rule (precedence order) naming it. */
  exact: Map<string, RewriteChoice>;
  /** The first rule with no matches (every request), if any. */
  all?: RewriteChoice;
}

export interface CompiledTable {
  version: number;
  source: RoutingTable;
  /** One entry per (rule, match, hostname), sorted by Gateway API precedence. */
  rules: CompiledRule[];
  /** Whether any rule matches on query parameters (else the query string is never parsed). */
  usesQuery: boolean;
  pools: Map<string, Pool>;
  /** pool name → model name → model (InferenceModel, older API). */
  models: Map<string, Map<string, Model>>;
  /** Names clients ask for that the table names itself (InferenceModels, exact rewrite matches), for `/v1/models`. */
  modelNames: string[];
  /** pool name → objective name → objective. */
  objectives: Map<string, Map<string, Objective>>;
  /** pool name → its rewrites. */
  rewrites: Map<string, PoolRewrites>;
  /** tenant → its TokenBudget (`*`: every other tenant's). */
  budgets: Map<string, TokenBudget>;
}

/** What a request offers to route matching beyond path and headers. */
export interface MatchRequest {
  /** The request's host (Host header, port stripped, lower case). */
  host?: string;
  method?: string;
  /** Query parameter → first value. */
  query?: (name: string) => string | null;
}

export function compileTable(table: RoutingTable): CompiledTable {
  const pools = new Map(table.pools.map((p) => [p.name, p]));
  const rules: CompiledRule[] = [];
  const orderOf = new Map<CompiledRule, number>();
  let usesQuery = false;
  for (const route of table.routes) {
    const hostnames: (string | undefined)[] = route.hostnames.length ? route.hostnames : [undefined];
    route.rules.forEach((rule, ruleIndex) => {
      const backends = rule.backendRefs.flatMap((b): CompiledBackend[] => {
        if (b.weight === 0) return [];
        if (b.unresolved !== undefined) return [{ weight: b.weight, unresolved: b.unresolved }];
        const pool = pools.get(b.pool!);
        return pool ? [{ pool, weight: b.weight }] : [];
      });
      const totalWeight = backends.reduce((s, b) => s + b.weight, 0);
      for (const m of rule.matches) {
        if (m.queryParams.length) usesQuery = true;
        for (const hostname of hostnames) {
          const compiled: CompiledRule = {
            route: route.name,
            ruleIndex,
            match: {
              pathType: m.path.type,
              path: m.path.value,
              // HTTPRouteMatch: of entries with an equivalent name only the first is considered (header
              // names compare case-insensitively, query-param names exactly); later ones are ignored.
              headers: firstOfEachName(m.headers.map((h) => valueMatch(h, h.name.toLowerCase()))),
              queryParams: firstOfEachName(m.queryParams.map((q) => valueMatch(q, q.name))),
              ...(m.method ? { method: m.method } : {}),
              ...(hostname ? { hostname } : {}),
            },
            backends,
            totalWeight,
            requestTimeoutMs: rule.requestTimeoutMs ?? 0,
          };
          orderOf.set(compiled, orderOf.size);
          rules.push(compiled);
        }
      }
    });
  }
  // Gateway API precedence: the most specific hostname, then exact path over
  // prefix, the longer path, a method match, more header matches, more
  // query-param matches, then the table's order of routes and rules. The
  // manifest import lists HTTPRoutes oldest first, then by {namespace}/{name}
  // (the spec's last tie-breaks), in file and cluster alike (manifest-convert.ts).
  rules.sort((a, b) => {
    const host = hostnameRank(b.match.hostname) - hostnameRank(a.match.hostname);
    if (host !== 0) return host;
    if (a.match.pathType !== b.match.pathType) return a.match.pathType === 'Exact' ? -1 : 1;
    if (a.match.path.length !== b.match.path.length) return b.match.path.length - a.match.path.length;
    if (!!a.match.method !== !!b.match.method) return a.match.method ? -1 : 1;
    if (a.match.headers.length !== b.match.headers.length) return b.match.headers.length - a.match.headers.length;
    if (a.match.queryParams.length !== b.match.queryParams.length) return b.match.queryParams.length - a.match.queryParams.length;
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
  const objectives = new Map<string, Map<string, Objective>>();
  for (const o of table.objectives) {
    let byName = objectives.get(o.pool);
    if (!byName) objectives.set(o.pool, (byName = new Map()));
    byName.set(o.name, o);
  }
  const rewrites = new Map<string, PoolRewrites>();
  for (const rewrite of table.rewrites) {
    let of = rewrites.get(rewrite.pool);
    if (!of) rewrites.set(rewrite.pool, (of = { exact: new Map() }));
    for (const rule of rewrite.rules) {
      const choice = { rewrite, rule, totalWeight: rule.targets.reduce((s, t) => s + t.weight, 0) };
      if (rule.models.length === 0) of.all ??= choice;
      for (const model of rule.models) {
        if (!of.exact.has(model)) of.exact.set(model, choice);
        names.add(model);
      }
    }
  }
  const budgets = new Map(table.budgets.map((b) => [b.tenant, b]));
  return { version: table.version, source: table, rules, usesQuery, pools, models, modelNames: [...names].sort(), objectives, rewrites, budgets };
}

function firstOfEachName(list: CompiledValueMatch[]): CompiledValueMatch[] {
  const seen = new Set<string>();
  return list.filter((m) => {
    if (seen.has(m.name)) return false;
    seen.add(m.name);
    return true;
  });
}

function valueMatch(m: { type: 'Exact' | 'RegularExpression'; value: string }, name: string): CompiledValueMatch {
  return m.type === 'RegularExpression' ? { name, regex: new RegExp(`^(?:${m.value})$`) } : { name, exact: m.value };
}

/** The first rule (in precedence order) matching the request. */
export function matchRule(table: CompiledTable, path: string, header: (lowerCaseName: string) => string | null, request: MatchRequest = {}): CompiledRule | undefined {
  const host = request.host ?? '';
  outer: for (const rule of table.rules) {
    const m = rule.match;
    if (m.hostname !== undefined && !hostnameMatches(m.hostname, host)) continue;
    if (m.pathType === 'Exact' ? path !== m.path : !pathHasPrefix(path, m.path)) continue;
    if (m.method !== undefined && m.method !== (request.method ?? 'POST')) continue;
    for (const h of m.headers) if (!valueMatches(h, header(h.name))) continue outer;
    for (const q of m.queryParams) if (!valueMatches(q, request.query?.(q.name) ?? null)) continue outer;
    return rule;
  }
  return undefined;
}

function valueMatches(m: CompiledValueMatch, value: string | null): boolean {
  if (value === null) return false;
  return m.exact !== undefined ? value === m.exact : m.regex!.test(value);
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
