/**
 * The routing table: the one document that says which requests go to which
 * pool, and how each model name is served there. It is pushed whole (from
 * Kubernetes manifests or the RoutingService) and validated here, at its edge.
 */
import * as v from 'valibot';

const Name = v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(253, 'must be at most 253 characters'));
const Weight = v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(0, 'must not be negative'), v.maxValue(1_000_000, 'must be at most 1000000'));
const Port = v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(1, 'must be 1-65535'), v.maxValue(65535, 'must be 1-65535'));

export const Criticality = v.picklist(['Critical', 'Standard', 'Sheddable'], 'must be Critical, Standard or Sheddable');
export type Criticality = v.InferOutput<typeof Criticality>;

export const FailureMode = v.picklist(['FailOpen', 'FailClose'], 'must be FailOpen or FailClose');
export type FailureMode = v.InferOutput<typeof FailureMode>;

export const HeaderMatch = v.object({
  type: v.optional(v.picklist(['Exact', 'RegularExpression'], 'must be Exact or RegularExpression'), 'Exact'),
  name: Name,
  value: v.string(),
});
export type HeaderMatch = v.InferOutput<typeof HeaderMatch>;

/** Gateway API query-parameter match: the name is exact and case-sensitive. */
export const QueryParamMatch = v.object({
  type: v.optional(v.picklist(['Exact', 'RegularExpression'], 'must be Exact or RegularExpression'), 'Exact'),
  name: Name,
  value: v.string(),
});
export type QueryParamMatch = v.InferOutput<typeof QueryParamMatch>;

export const PathMatch = v.object({
  type: v.optional(v.picklist(['Exact', 'PathPrefix'], 'must be Exact or PathPrefix'), 'PathPrefix'),
  value: v.optional(v.pipe(v.string(), v.startsWith('/', 'must start with /')), '/'),
});
export type PathMatch = v.InferOutput<typeof PathMatch>;

export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

export const RouteMatch = v.object({
  path: v.optional(PathMatch, { type: 'PathPrefix', value: '/' }),
  headers: v.optional(v.array(HeaderMatch), []),
  queryParams: v.optional(v.array(QueryParamMatch), []),
  method: v.optional(v.picklist(HTTP_METHODS, `must be one of ${HTTP_METHODS.join(', ')}`)),
});
export type RouteMatch = v.InferOutput<typeof RouteMatch>;

/**
 * A backend of a rule: a pool, or a reference that did not resolve (an
 * HTTPRoute's backendRef to a missing pool, another kind, another namespace
 * without a ReferenceGrant; or a rule with none). An unresolved one takes its
 * share of the weighted draw and answers 500 (Gateway API
 * HTTPRouteRule.backendRefs); `pool` is then only the name it asked for.
 */
export const BackendRef = v.object({
  pool: v.optional(Name),
  weight: v.optional(Weight, 1),
  /** Why the reference does not resolve (`field path: problem`), for the 500's message. */
  unresolved: v.optional(v.pipe(v.string(), v.minLength(1, 'must not be empty'), v.maxLength(2000, 'must be at most 2000 characters'))),
});
export type BackendRef = v.InferOutput<typeof BackendRef>;

export const RouteRule = v.object({
  matches: v.optional(v.array(RouteMatch), [{ path: { type: 'PathPrefix', value: '/' }, headers: [], queryParams: [] }]),
  backendRefs: v.array(BackendRef),
  /** HTTPRoute `timeouts.request`, ms; unset or 0: none. */
  requestTimeoutMs: v.optional(v.pipe(v.number('must be a number'), v.minValue(0, 'must not be negative'))),
});
export type RouteRule = v.InferOutput<typeof RouteRule>;

/**
 * A hostname as the Gateway API writes it: lower-case DNS labels, optionally
 * starting with `*.` (one or more labels).
 */
export const Hostname = v.pipe(
  v.string('must be a string'),
  v.regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a lower-case hostname, optionally starting with "*."'),
);

export const Route = v.object({
  /** Unique in the table; `namespace/name` for an HTTPRoute outside the default namespace. */
  name: Name,
  /** Hosts the route serves (the request's Host, port stripped); empty: any. */
  hostnames: v.optional(v.array(Hostname), []),
  rules: v.array(RouteRule),
});
export type Route = v.InferOutput<typeof Route>;

export const Pool = v.object({
  name: Name,
  /** Labels an endpoint must carry (all of them) to belong to the pool. */
  selector: v.record(v.string(), v.string()),
  targetPorts: v.pipe(v.array(Port), v.minLength(1, 'needs at least one port')),
  appProtocol: v.optional(v.picklist(['http', 'h2c']), 'http'),
  failureMode: v.optional(FailureMode, 'FailClose'),
  /** Name of a scheduling profile; unset means infergate's default. */
  profile: v.optional(v.string()),
});
export type Pool = v.InferOutput<typeof Pool>;

export const TargetModel = v.object({
  name: Name,
  weight: v.optional(Weight, 1),
});
export type TargetModel = v.InferOutput<typeof TargetModel>;

export const Model = v.object({
  /** The name clients ask for (header or body `model`). */
  name: Name,
  pool: Name,
  criticality: v.optional(Criticality, 'Standard'),
  /** Higher is more important; below zero is sheddable. Derived from criticality when unset. */
  priority: v.optional(v.pipe(v.number(), v.integer())),
  /** Names sent upstream instead (LoRA adapters, canaries); empty means the name itself. */
  targetModels: v.optional(v.array(TargetModel), []),
});
export type Model = v.InferOutput<typeof Model>;

/**
 * An InferenceObjective: a priority requests of a pool opt into with the
 * `x-llm-d-inference-objective` header (or the older `x-gateway-inference-objective`).
 * Its name is unique within its pool.
 */
export const Objective = v.object({
  name: Name,
  pool: Name,
  priority: v.optional(v.pipe(v.number('must be a number'), v.integer('must be an integer')), 0),
});
export type Objective = v.InferOutput<typeof Objective>;

export const RewriteTarget = v.object({
  /** The model name sent to the model server. */
  model: Name,
  weight: v.optional(Weight, 1),
});
export type RewriteTarget = v.InferOutput<typeof RewriteTarget>;

export const RewriteRule = v.object({
  /** Requested model names this rule matches (Exact); empty: every request of the pool. */
  models: v.optional(v.array(Name), []),
  targets: v.pipe(v.array(RewriteTarget), v.minLength(1, 'needs at least one target')),
});
export type RewriteRule = v.InferOutput<typeof RewriteRule>;

/** An InferenceModelRewrite: weighted target models for the requests of one pool. Rules are in precedence order. */
export const Rewrite = v.object({
  name: Name,
  pool: Name,
  rules: v.array(RewriteRule),
});
export type Rewrite = v.InferOutput<typeof Rewrite>;

const Count = v.pipe(v.number('must be a number'), v.integer('must be an integer'), v.minValue(0, 'must not be negative'), v.maxValue(1e12, 'must be at most 1e12'));

/**
 * A TokenBudget (infergate.dev/v1alpha1): what one tenant may use across
 * every pool — tokens in any 60 s and requests in flight (0: no limit) —
 * reserved before each request is sent (src/budgets/). Tenant `*` is the
 * budget of every tenant without one of its own.
 */
export const TokenBudget = v.object({
  name: Name,
  tenant: Name,
  tokensPerMinute: v.optional(Count, 0),
  maxConcurrentRequests: v.optional(Count, 0),
  /** Reserved for the answer when a request sets no max_tokens. */
  defaultMaxTokens: v.optional(v.pipe(Count, v.minValue(1, 'must be at least 1')), 1024),
});
export type TokenBudget = v.InferOutput<typeof TokenBudget>;

export const RoutingTable = v.object({
  version: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  routes: v.optional(v.array(Route), []),
  pools: v.optional(v.array(Pool), []),
  models: v.optional(v.array(Model), []),
  objectives: v.optional(v.array(Objective), []),
  rewrites: v.optional(v.array(Rewrite), []),
  budgets: v.optional(v.array(TokenBudget), []),
});
export type RoutingTable = v.InferOutput<typeof RoutingTable>;
export type RoutingTableInput = v.InferInput<typeof RoutingTable>;
