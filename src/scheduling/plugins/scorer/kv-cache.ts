/** kv-cache-utilization-scorer: 1 − KV-cache usage (usage clamped to [0, 1]). */
import { ScorerKind } from '../../kernel/layout.ts';
import type { ScorerPlugin } from '../types.ts';
import { finiteNonNegative } from './columns.ts';

export function createKvCacheScorer(name = 'kv-cache-utilization-scorer'): ScorerPlugin {
  return {
    kind: 'scorer',
    type: 'kv-cache-utilization-scorer',
    name,
    scorer: ScorerKind.kvCache,
    prepare(candidates, ctx) {
      const column = ctx.kernel.kvUsage;
      for (let i = 0; i < candidates.length; i++) column[i] = finiteNonNegative(candidates[i]!.metrics.kvUsage);
    },
  };
}
