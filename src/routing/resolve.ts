/**
 * From a parsed request to where it should go: model name → route → pool →
 * model entry → target model and priority. Pure; reads one table.
 */
import { drawWeighted, matchRule, type CompiledTable } from './compile.ts';
import type { Criticality, Model, Pool } from './schema.ts';
import { badRequest, modelNotFound } from '../api/errors.ts';
import type { InboundHeaders } from '../http/inbound.ts';

export const MODEL_HEADER = 'x-gateway-model-name';
export const OBJECTIVE_HEADER = 'x-gateway-inference-objective';

export interface Resolution {
  pool: Pool;
  model: Model;
  requestedModel: string;
  targetModel: string;
  criticality: Criticality;
  priority: number;
}

const PRIORITY: Record<Criticality, number> = { Critical: 1, Standard: 0, Sheddable: -1 };

export function resolveRequest(
  table: CompiledTable,
  path: string,
  headers: InboundHeaders,
  bodyModel: string | undefined,
  random: () => number,
): Resolution {
  const headerModel = headers.get(MODEL_HEADER);
  const requestedModel = headerModel || bodyModel;
  if (!requestedModel) {
    throw badRequest(`Missing required field "model" (or the ${MODEL_HEADER} header).`, 'missing_required_parameter', 'model');
  }
  // Routes match on the model header; a client that names the model only in
  // the body is matched as if it had sent the header too.
  const header = headerModel ? (n: string) => headers.get(n) : (n: string) => (n === MODEL_HEADER ? requestedModel : headers.get(n));
  const rule = matchRule(table, path, header);
  if (!rule) throw modelNotFound(requestedModel, table.modelNames);
  const backend = drawWeighted(rule.backends, rule.totalWeight, random);
  if (!backend) throw modelNotFound(requestedModel, table.modelNames);
  const pool = backend.pool;
  const model = table.models.get(pool.name)?.get(requestedModel);
  if (!model) throw modelNotFound(requestedModel, table.modelNames);

  const targets = model.targetModels;
  const target = targets.length ? drawWeighted(targets, sumWeights(targets), random)!.name : requestedModel;

  let priority = model.priority ?? PRIORITY[model.criticality];
  let criticality = model.criticality;
  const objectiveName = headers.get(OBJECTIVE_HEADER);
  if (objectiveName) {
    const objective = table.objectives.get(objectiveName);
    if (!objective || objective.pool !== pool.name) {
      throw badRequest(`Unknown inference objective "${objectiveName}" for pool "${pool.name}" (header ${OBJECTIVE_HEADER}).`, 'invalid_objective', OBJECTIVE_HEADER);
    }
    priority = objective.priority;
    criticality = priority < 0 ? 'Sheddable' : priority > 0 ? 'Critical' : 'Standard';
  }
  return { pool, model, requestedModel, targetModel: target, criticality, priority };
}

function sumWeights(items: readonly { weight: number }[]): number {
  let s = 0;
  for (const i of items) s += i.weight;
  return s;
}
