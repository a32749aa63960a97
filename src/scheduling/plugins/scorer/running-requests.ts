/** running-requests-size-scorer (llm-d's and GIE's name): a smaller running batch is better, min-max normalised (all equal → 1). */
import { ScorerKind } from '../../kernel/layout.ts';
import type { ScorerPlugin } from '../types.ts';
import { finiteNonNegative } from './columns.ts';

export function createRunningRequestsScorer(name = 'running-requests-size-scorer'): ScorerPlugin {
  return {
    kind: 'scorer',
    type: 'running-requests-size-scorer',
    name,
    scorer: ScorerKind.runningRequests,
    prepare(candidates, ctx) {
      const column = ctx.kernel.running;
      for (let i = 0; i < candidates.length; i++) column[i] = finiteNonNegative(candidates[i]!.metrics.running);
    },
  };
}
