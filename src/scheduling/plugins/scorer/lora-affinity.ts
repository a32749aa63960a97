/**
 * lora-affinity-scorer, as llm-d scores (scorer/loraaffinity): every request
 * by the same classes — 1.0 when the target model is active on the endpoint,
 * 0.8 when the endpoint has room to load one more (active + waiting adapters
 * below its maximum; an unreported maximum, 0, is never room), 0.6 when the
 * model is in its waiting list, else 0. A base-model request is scored so
 * too: vLLM lists only adapters, so it gets 0.8 where a slot is free and 0
 * where the slots are full.
 *
 * infergate's `baseModels` parameter names the pool's base models: a request
 * for one of them scores 1.0 everywhere — neutral, so base-model traffic is
 * not pushed off pods whose adapter slots are full.
 *
 * infergate's built-in profiles keep its own classes (`builtInClasses`, not a
 * configuration field): a target model is an adapter when some candidate lists
 * it (active or waiting) or, with `baseModels`, when it is not one of them;
 * anything else scores 1.0 everywhere; room is fewer active adapters than the
 * maximum, or a maximum not reported.
 */
import type { EndpointMetrics } from '../../../endpoints/types.ts';
import { LoraClass, ScorerKind } from '../../kernel/layout.ts';
import type { Candidate, ScorerPlugin } from '../types.ts';

export interface LoraAffinityParameters {
  baseModels?: string[];
  /** infergate's own classes (see above): set by the built-in profiles only, the configuration schema has no such field. */
  builtInClasses?: boolean;
}

/** llm-d's class of one endpoint for the target model (LoraClass codes). */
export function llmdLoraClass(metrics: EndpointMetrics, model: string): number {
  if (metrics.activeAdapters.includes(model)) return LoraClass.active;
  // An unreported maximum (0) is never room: no count needed.
  if (metrics.maxAdapters > 0 && distinct(metrics.activeAdapters) + distinct(metrics.waitingAdapters) < metrics.maxAdapters) return LoraClass.roomToLoad;
  if (metrics.waitingAdapters.includes(model)) return LoraClass.waiting;
  return LoraClass.none;
}

/** Names in the list, each once (llm-d holds them as sets). */
function distinct(names: readonly string[]): number {
  let n = 0;
  for (let i = 0; i < names.length; i++) if (names.indexOf(names[i]!) === i) n++;
  return n;
}

/** infergate's class of one endpoint for an adapter (LoraClass codes): room is active < max, or max unknown. */
export function loraClass(metrics: EndpointMetrics, adapter: string): number {
  if (metrics.activeAdapters.includes(adapter)) return LoraClass.active;
  if (metrics.maxAdapters <= 0 || metrics.activeAdapters.length < metrics.maxAdapters) return LoraClass.roomToLoad;
  if (metrics.waitingAdapters.includes(adapter)) return LoraClass.waiting;
  return LoraClass.none;
}

/** Is `model` a LoRA adapter, judged from the candidates and the known base models? (infergate's classes) */
export function isAdapter(model: string, candidates: Candidate[], baseModels: readonly string[] | undefined): boolean {
  for (const c of candidates) {
    if (c.metrics.activeAdapters.includes(model) || c.metrics.waitingAdapters.includes(model)) return true;
  }
  return baseModels !== undefined && baseModels.length > 0 && !baseModels.includes(model);
}

export function createLoraAffinityScorer(name = 'lora-affinity-scorer', params: LoraAffinityParameters = {}): ScorerPlugin {
  const builtIn = params.builtInClasses === true;
  const classOf = builtIn ? loraClass : llmdLoraClass;
  return {
    kind: 'scorer',
    type: 'lora-affinity-scorer',
    name,
    scorer: ScorerKind.loraAffinity,
    prepare(candidates, ctx) {
      const column = ctx.kernel.loraClass;
      const model = ctx.request.targetModel;
      const neutral = builtIn ? !isAdapter(model, candidates, params.baseModels) : params.baseModels?.includes(model) === true;
      if (neutral) {
        column.fill(LoraClass.active, 0, candidates.length);
        return;
      }
      for (let i = 0; i < candidates.length; i++) column[i] = classOf(candidates[i]!.metrics, model);
    },
  };
}
