/**
 * From a parsed request to where it should go: HTTPRoute rule (host, path,
 * method, headers, query) → InferencePool → target model and priority. Pure;
 * reads one table. The names and semantics are llm-d's
 * (`pkg/epp/metadata/consts.go`, its director):
 * - the target model: the `x-llm-d-model-name-rewrite` header, else an
 *   InferenceModel of the pool (older API), else the pool's
 *   InferenceModelRewrite rule (exact match before a match-all rule), else the
 *   model as asked — the pool's servers decide what they serve. A pool that
 *   has InferenceModels keeps that API's closed list: other names are 404.
 * - the priority: the InferenceObjective named by `x-llm-d-inference-objective`
 *   (an unknown name is priority 0, as llm-d treats it), else the
 *   InferenceModel's criticality, else 0.
 */
import { drawWeighted, matchRule, type CompiledRule, type CompiledTable } from './compile.ts';
import { requestHost } from './hostnames.ts';
import type { Criticality, Model, Pool } from './schema.ts';
import { badRequest, GatewayError, modelNotFound } from '../api/errors.ts';
import type { InboundHeaders } from '../http/inbound.ts';

export const MODEL_HEADER = 'x-gateway-model-name';
/** The objective header, llm-d's name first (read first when both are sent), then GIE's. */
export const OBJECTIVE_HEADERS = ['x-llm-d-inference-objective', 'x-gateway-inference-objective'] as const;
export const MODEL_REWRITE_HEADERS = ['x-llm-d-model-name-rewrite', 'x-gateway-model-name-rewrite'] as const;
/** The only endpoints the picker may choose (`ip:port`, comma-separated); none eligible → 503. */
export const SUBSET_HEADER = 'x-gateway-destination-endpoint-subset';
/** The conformance suite's picker steering (`ip` or `ip:port`, comma-separated), read by header-based-testing-filter. */
export const TEST_SELECTION_HEADER = 'test-epp-endpoint-selection';

/** What the caller said about which endpoints may serve the request. */
export interface EndpointHints {
  subset?: string[];
  selection?: string[];
}

export interface Resolution {
  pool: Pool;
  /** The InferenceModel the request matched (older API), if any. */
  model?: Model;
  requestedModel: string;
  targetModel: string;
  criticality: Criticality;
  priority: number;
  /** The objective header's value and whether the pool has an objective of that name. */
  objective?: { name: string; known: boolean };
  /** The InferenceModelRewrite that chose the target model, if one did. */
  rewrite?: string;
  /** HTTPRoute `timeouts.request` of the rule, ms (0: none). */
  requestTimeoutMs: number;
  /** The matched rule's path value (PathPrefix or Exact): the request's low-cardinality route (OTel `http.route`). */
  matchedPath: string;
  hints: EndpointHints;
}

/** What resolution reads of the request besides path, headers and the body's model. */
export interface ResolveOptions {
  method?: string;
  /** The query string, `''` or `?…`. */
  search?: string;
  /**
   * False for a path outside the OpenAI API: it is routed only by a rule that
   * names a path (a catch-all `PathPrefix /` routes the API, not every URL of
   * the model servers, such as vLLM's adapter-loading endpoints).
   */
  api?: boolean;
}

const PRIORITY: Record<Criticality, number> = { Critical: 1, Standard: 0, Sheddable: -1 };

export function resolveRequest(
  table: CompiledTable,
  path: string,
  headers: InboundHeaders,
  bodyModel: string | undefined,
  random: () => number,
  options: ResolveOptions = {},
): Resolution {
  const api = options.api ?? true;
  const headerModel = headers.get(MODEL_HEADER);
  const requestedModel = headerModel || bodyModel || '';
  if (api && !requestedModel) {
    throw badRequest(`Missing required field "model" (or the ${MODEL_HEADER} header).`, 'missing_required_parameter', 'model');
  }
  const rule = findRule(table, path, headers, headerModel ? undefined : requestedModel, options);
  if (!rule) {
    if (api) throw modelNotFound(requestedModel, table.modelNames);
    throw unknownUrl(options.method ?? 'POST', path);
  }
  const backend = drawWeighted(rule.backends, rule.totalWeight, random);
  if (!backend) throw drainedRule(rule);
  if (backend.unresolved !== undefined) throw unresolvedBackend(rule, backend.unresolved);
  const pool = backend.pool;

  let targetModel = requestedModel;
  let model: Model | undefined;
  let rewrite: string | undefined;
  const rewriteHeader = firstHeader(headers, MODEL_REWRITE_HEADERS);
  const legacy = table.models.get(pool.name);
  if (rewriteHeader) {
    targetModel = rewriteHeader;
  } else if ((model = legacy?.get(requestedModel))) {
    const targets = model.targetModels;
    if (targets.length) targetModel = drawWeighted(targets, sumWeights(targets), random)!.name;
  } else {
    const of = table.rewrites.get(pool.name);
    const choice = of?.exact.get(requestedModel) ?? of?.all;
    if (choice) {
      targetModel = drawWeighted(choice.rule.targets, choice.totalWeight, random)!.model;
      rewrite = choice.rewrite.name;
    } else if (legacy && requestedModel) {
      // InferenceModel's rule: a pool that names its models serves only those.
      throw modelNotFound(requestedModel, table.modelNames);
    }
  }

  let priority = model ? (model.priority ?? PRIORITY[model.criticality]) : 0;
  let objective: Resolution['objective'];
  const objectiveName = firstHeader(headers, OBJECTIVE_HEADERS);
  if (objectiveName) {
    const found = table.objectives.get(pool.name)?.get(objectiveName);
    objective = { name: objectiveName, known: found !== undefined };
    priority = found ? found.priority : 0;
  }
  const criticality: Criticality = model && !objectiveName ? model.criticality : priority < 0 ? 'Sheddable' : priority > 0 ? 'Critical' : 'Standard';
  return {
    pool,
    ...(model ? { model } : {}),
    requestedModel,
    targetModel,
    criticality,
    priority,
    ...(objective ? { objective } : {}),
    ...(rewrite ? { rewrite } : {}),
    requestTimeoutMs: rule.requestTimeoutMs,
    matchedPath: rule.match.path,
    hints: endpointHints(headers),
  };
}

function findRule(table: CompiledTable, path: string, headers: InboundHeaders, impliedModel: string | undefined, options: ResolveOptions): CompiledRule | undefined {
  // Routes match on the model header; a client that names the model only in
  // the body is matched as if it had sent the header too.
  const header = impliedModel === undefined ? (n: string) => headers.get(n) : (n: string) => (n === MODEL_HEADER ? impliedModel || null : headers.get(n));
  let query: ((name: string) => string | null) | undefined;
  if (table.usesQuery && options.search) {
    const params = new URLSearchParams(options.search);
    query = (name) => params.get(name);
  }
  const rule = matchRule(table, path, header, { host: requestHost(headers.get('host')), method: options.method, query });
  if (rule && options.api === false && rule.match.pathType === 'PathPrefix' && rule.match.path === '/') return undefined;
  return rule;
}

function endpointHints(headers: InboundHeaders): EndpointHints {
  const subset = list(headers.get(SUBSET_HEADER));
  const selection = list(headers.get(TEST_SELECTION_HEADER));
  return { ...(subset ? { subset } : {}), ...(selection ? { selection } : {}) };
}

function list(value: string | null): string[] | undefined {
  if (value === null) return undefined;
  const items = value.split(',').map((s) => s.trim()).filter((s) => s.length > 0);
  return items.length ? items : undefined;
}

function firstHeader(headers: InboundHeaders, names: readonly string[]): string | undefined {
  for (const n of names) {
    const v = headers.get(n);
    if (v) return v;
  }
  return undefined;
}

/** Gateway API HTTPRouteRule.backendRefs: requests a rule would send to an invalid backendRef MUST get 500. */
function unresolvedBackend(rule: CompiledRule, why: string): GatewayError {
  return new GatewayError({
    status: 500,
    type: 'server_error',
    code: 'backend_ref_unresolved',
    message: `Route "${rule.route}" (rule ${rule.ruleIndex}) sent this request to a backendRef that does not resolve: ${why}. Fix the backendRef, or create what it names; until then the requests drawn to it are answered 500, as the Gateway API requires.`,
  });
}

/** Every weight 0 drains a rule: no backend may be sent its requests, so they get 500 (Gateway API BackendRef.weight). */
function drainedRule(rule: CompiledRule): GatewayError {
  return new GatewayError({
    status: 500,
    type: 'server_error',
    code: 'backend_refs_drained',
    message: `Route "${rule.route}" (rule ${rule.ruleIndex}) matched this request, but every backendRef of the rule has weight 0, so it has no backend to send it to. Give a backendRef a weight above 0 to serve these requests.`,
  });
}

function unknownUrl(method: string, path: string): GatewayError {
  return new GatewayError({
    status: 404,
    type: 'invalid_request_error',
    code: 'unknown_url',
    message: `Unknown path ${method} ${path}. This gateway serves POST /v1/chat/completions, /v1/completions, /v1/embeddings, GET /v1/models, and the paths its HTTPRoutes name.`,
  });
}

function sumWeights(items: readonly { weight: number }[]): number {
  let s = 0;
  for (const i of items) s += i.weight;
  return s;
}
