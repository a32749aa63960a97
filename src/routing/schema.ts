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

export const PathMatch = v.object({
  type: v.optional(v.picklist(['Exact', 'PathPrefix'], 'must be Exact or PathPrefix'), 'PathPrefix'),
  value: v.optional(v.pipe(v.string(), v.startsWith('/', 'must start with /')), '/'),
});
export type PathMatch = v.InferOutput<typeof PathMatch>;

export const RouteMatch = v.object({
  path: v.optional(PathMatch, { type: 'PathPrefix', value: '/' }),
  headers: v.optional(v.array(HeaderMatch), []),
});
export type RouteMatch = v.InferOutput<typeof RouteMatch>;

export const BackendRef = v.object({
  pool: Name,
  weight: v.optional(Weight, 1),
});
export type BackendRef = v.InferOutput<typeof BackendRef>;

export const RouteRule = v.object({
  matches: v.optional(v.array(RouteMatch), [{ path: { type: 'PathPrefix', value: '/' }, headers: [] }]),
  backendRefs: v.array(BackendRef),
});
export type RouteRule = v.InferOutput<typeof RouteRule>;

export const Route = v.object({
  name: Name,
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

/** An InferenceObjective: a priority requests opt into with the `x-gateway-inference-objective` header. */
export const Objective = v.object({
  name: Name,
  pool: Name,
  priority: v.optional(v.pipe(v.number('must be a number'), v.integer('must be an integer')), 0),
});
export type Objective = v.InferOutput<typeof Objective>;

export const RoutingTable = v.object({
  version: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  routes: v.optional(v.array(Route), []),
  pools: v.optional(v.array(Pool), []),
  models: v.optional(v.array(Model), []),
  objectives: v.optional(v.array(Objective), []),
});
export type RoutingTable = v.InferOutput<typeof RoutingTable>;
export type RoutingTableInput = v.InferInput<typeof RoutingTable>;
