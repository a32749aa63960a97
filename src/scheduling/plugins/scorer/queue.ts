/** queue-scorer: fewer waiting requests is better, min-max normalised (all equal → 1). */
import { ScorerKind } from '../../kernel/layout.ts';
import type { ScorerPlugin } from '../types.ts';
import { finiteNonNegative } from './columns.ts';

export function createQueueScorer(name = 'queue-scorer'): ScorerPlugin {
  return {
    kind: 'scorer',
    type: 'queue-scorer',
    name,
    scorer: ScorerKind.queue,
    prepare(candidates, ctx) {
      const column = ctx.kernel.waiting;
      for (let i = 0; i < candidates.length; i++) column[i] = finiteNonNegative(candidates[i]!.metrics.waiting);
    },
  };
}
