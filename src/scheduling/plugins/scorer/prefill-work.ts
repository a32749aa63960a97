/**
 * prefill-work-scorer: less prefill ahead of this request's first token is
 * better. The cost per endpoint (pending uncached prefill there plus this
 * prompt's part the endpoint does not hold) is written by the prefill-work
 * producer (../producer/prefill-work.ts, where the reasoning is); the kernel
 * scores 1 − (cost − min) / max(max − min, span), clamped to [0, 1], with
 * span = `minRangeTokens` (0: plain min-max).
 */
import { ScorerKind } from '../../kernel/layout.ts';
import { PREFILL_WORK_PRODUCER } from '../producer/prefill-work.ts';
import type { ScorerPlugin } from '../types.ts';

export interface PrefillWorkParameters {
  /** A cost difference of at least this many tokens spans the whole score range (default 0: min-max). */
  minRangeTokens?: number;
}

/** ~4 characters per token, 64-byte blocks: 16 tokens per block. */
const TOKENS_PER_BLOCK = 16;

export function createPrefillWorkScorer(name = 'prefill-work-scorer', params: PrefillWorkParameters = {}): ScorerPlugin {
  return {
    kind: 'scorer',
    type: 'prefill-work-scorer',
    name,
    scorer: ScorerKind.prefillWork,
    param: Math.max(0, params.minRangeTokens ?? 0) / TOKENS_PER_BLOCK,
    requires: PREFILL_WORK_PRODUCER,
  };
}
