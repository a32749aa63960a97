/**
 * in-flight-scorer: fewer of this gateway's dispatches not yet visible in the
 * endpoint's metrics is better, min-max normalised (all equal → 1). See
 * ../../in-flight.ts for what "not yet visible" means.
 */
import { ScorerKind } from '../../kernel/layout.ts';
import type { ScorerPlugin } from '../types.ts';

export function createInFlightScorer(name = 'in-flight-scorer'): ScorerPlugin {
  return {
    kind: 'scorer',
    type: 'in-flight-scorer',
    name,
    scorer: ScorerKind.inFlight,
    prepare(candidates, ctx) {
      const column = ctx.kernel.inFlight;
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[i]!;
        column[i] = c.record.inFlight.unreflected(c.endpoint.scrapedAt);
      }
    },
  };
}
