/**
 * prefix-cache-scorer: the share of the prompt's leading blocks the endpoint
 * likely holds in its KV cache — matched prefix / prompt blocks, the match
 * written by the approx-prefix-cache producer (../producer/approx-prefix-cache.ts).
 * The kernel does the division; the scorer only names its column.
 */
import { ScorerKind } from '../../kernel/layout.ts';
import { APPROX_PREFIX_CACHE_PRODUCER } from '../producer/approx-prefix-cache.ts';
import type { ScorerPlugin } from '../types.ts';

export function createPrefixCacheScorer(name = 'prefix-cache-scorer'): ScorerPlugin {
  return { kind: 'scorer', type: 'prefix-cache-scorer', name, scorer: ScorerKind.prefixCache, requires: APPROX_PREFIX_CACHE_PRODUCER };
}
