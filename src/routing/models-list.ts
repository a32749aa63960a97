/**
 * `GET /v1/models` in OpenAI's list shape, what a client can ask for: every
 * model the pools' servers list at their own `/v1/models` (base models and
 * LoRA adapters, an adapter with its `parent`), then the names the routing
 * table answers to besides (InferenceModels' and rewrites' model names), each
 * once. A pool with InferenceModels serves only their names (that API's
 * closed list, see resolve.ts), so its servers' own models are not listed.
 */
import type { CompiledTable } from './compile.ts';

export interface ListedModel {
  id: string;
  parent?: string;
  /** The pools (table names) whose servers list it. */
  pools: readonly string[];
}

export interface ModelCard {
  id: string;
  object: 'model';
  created: number;
  owned_by: string;
  parent?: string;
}

export function modelList(table: CompiledTable | undefined, served: readonly ListedModel[], created: number): { object: 'list'; data: ModelCard[] } {
  const data: ModelCard[] = [];
  const seen = new Set<string>();
  for (const m of served) {
    if (seen.has(m.id) || m.pools.every((p) => table?.models.has(p))) continue;
    seen.add(m.id);
    data.push({ id: m.id, object: 'model', created, owned_by: 'infergate', ...(m.parent ? { parent: m.parent } : {}) });
  }
  for (const id of table?.modelNames ?? []) {
    if (seen.has(id)) continue;
    seen.add(id);
    data.push({ id, object: 'model', created, owned_by: 'infergate' });
  }
  return { object: 'list', data };
}
