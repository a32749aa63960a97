/**
 * lora-affinity-scorer: 1.0 when the request's adapter is active on the
 * endpoint, 0.8 when the endpoint has room to load it (fewer active adapters
 * than its maximum, or the maximum is not reported), 0.6 when it is only in
 * the endpoint's waiting list, else 0.
 *
 * Which target models are adapters: the pool's base model is not in the
 * routing table, so a target model counts as an adapter when some candidate
 * lists it (active or waiting), or — when the `baseModels` parameter is set —
 * when it is not one of them. Anything else (the base model, or an adapter no
 * pod has seen yet with `baseModels` unset) scores 1.0 everywhere: neutral, so
 * base-model traffic is not pushed away from pods whose adapter slots are full.
 */
import type { EndpointMetrics } from '../../../endpoints/types.ts';
import { LoraClass, ScorerKind } from '../../kernel/layout.ts';
import type { Candidate, ScorerPlugin } from '../types.ts';

export interface LoraAffinityParameters {
  baseModels?: string[];
}

/** The LoRA affinity class of one endpoint for an adapter (LoraClass codes). */
export function loraClass(metrics: EndpointMetrics, adapter: string): number {
  if (metrics.activeAdapters.includes(adapter)) return LoraClass.active;
  if (metrics.maxAdapters <= 0 || metrics.activeAdapters.length < metrics.maxAdapters) return LoraClass.roomToLoad;
  if (metrics.waitingAdapters.includes(adapter)) return LoraClass.waiting;
  return LoraClass.none;
}

/** Is `model` a LoRA adapter, judged from the candidates and the known base models? */
export function isAdapter(model: string, candidates: Candidate[], baseModels: readonly string[] | undefined): boolean {
  for (const c of candidates) {
    if (c.metrics.activeAdapters.includes(model) || c.metrics.waitingAdapters.includes(model)) return true;
  }
  return baseModels !== undefined && baseModels.length > 0 && !baseModels.includes(model);
}

export function createLoraAffinityScorer(name = 'lora-affinity-scorer', params: LoraAffinityParameters = {}): ScorerPlugin {
  return {
    kind: 'scorer',
    type: 'lora-affinity-scorer',
    name,
    scorer: ScorerKind.loraAffinity,
    prepare(candidates, ctx) {
      const column = ctx.kernel.loraClass;
      const model = ctx.request.targetModel;
      if (!isAdapter(model, candidates, params.baseModels)) {
        column.fill(LoraClass.active, 0, candidates.length);
        return;
      }
      for (let i = 0; i < candidates.length; i++) column[i] = loraClass(candidates[i]!.metrics, model);
    },
  };
}
