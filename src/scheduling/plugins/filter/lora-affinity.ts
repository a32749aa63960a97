/**
 * lora-affinity-filter: for an adapter request (see ../scorer/lora-affinity.ts
 * for what counts as one), keep only the endpoints in the best affinity class
 * present — active, else room to load, else waiting. Base-model requests and
 * pools where no endpoint has any affinity pass unchanged.
 */
import { LoraClass } from '../../kernel/layout.ts';
import { isAdapter, loraClass, type LoraAffinityParameters } from '../scorer/lora-affinity.ts';
import type { Candidate, FilterPlugin } from '../types.ts';

const CLASS_NAMES = ['no affinity', 'adapter waiting', 'room to load', 'adapter active'];

export function createLoraAffinityFilter(name = 'lora-affinity-filter', params: LoraAffinityParameters = {}): FilterPlugin {
  return {
    kind: 'filter',
    type: 'lora-affinity-filter',
    name,
    filter(candidates, ctx) {
      const model = ctx.request.targetModel;
      if (!isAdapter(model, candidates, params.baseModels)) return candidates;
      let best: number = LoraClass.none;
      for (const c of candidates) best = Math.max(best, loraClass(c.metrics, model));
      if (best === LoraClass.none) return candidates;
      const kept: Candidate[] = [];
      for (const c of candidates) {
        const cls = loraClass(c.metrics, model);
        if (cls === best) kept.push(c);
        else ctx.rejected?.push({ id: c.endpoint.id, by: name, reason: `${CLASS_NAMES[cls]} < ${CLASS_NAMES[best]}` });
      }
      return kept;
    },
  };
}
