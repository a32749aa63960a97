/**
 * precise-prefix-cache-scorer (llm-d's name): the share of the prompt's
 * blocks the endpoint's engine reports holding in its KV cache, weighted by
 * tier — matched / prompt blocks, the match written by the
 * precise-prefix-cache producer (../producer/precise-prefix-cache.ts) from
 * the engines' KV events, or its approximate fallback when there are none.
 * The kernel does the division; the scorer only names its column.
 */
import { ScorerKind } from '../../kernel/layout.ts';
import { PRECISE_PREFIX_CACHE_PRODUCER } from '../producer/precise-prefix-cache.ts';
import type { ScorerPlugin } from '../types.ts';

export function createPrecisePrefixCacheScorer(name = 'precise-prefix-cache-scorer'): ScorerPlugin {
  return { kind: 'scorer', type: 'precise-prefix-cache-scorer', name, scorer: ScorerKind.prefixCache, requires: PRECISE_PREFIX_CACHE_PRODUCER };
}
