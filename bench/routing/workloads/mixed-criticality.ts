/**
 * mixed-criticality — one pool of 8 pods, ShareGPT-like lengths, three
 * classes: Critical 20%, Standard 40%, Sheddable 40% of the steady rate, each
 * with its own 400-token system prompt. Between 40% and 60% of the run a
 * burst of extra Sheddable traffic worth 1.0 × the measured capacity arrives,
 * so at every load level the pool is pushed far past capacity for a while
 * (at 80% load the burst peaks at 180%). The average offered load is
 * therefore the level + 0.2 × capacity.
 */
import { logNormal, seeded, weighted } from '../../lib/rand.ts';
import type { Criticality } from '../../../src/routing/schema.ts';
import type { RequestSpec, WorkloadDef } from '../types.ts';
import { ENGINE, finish, part, poisson, tokensOf } from './common.ts';

/** Extra Sheddable traffic during the burst, as a share of capacity. */
const BURST = 1.0;

const MIX: readonly (readonly [Criticality, number])[] = [['Critical', 0.2], ['Standard', 0.4], ['Sheddable', 0.4]];

export const mixedCriticality: WorkloadDef = {
  name: 'mixed-criticality',
  describe: '8 pods, Critical/Standard/Sheddable 20/40/40, a Sheddable burst of +1.0× capacity for 20% of the run',
  pods: 8,
  durationMs: 120_000,
  quickDurationMs: 30_000,
  generate(params) {
    const pods = params.pods ?? 8;
    const pool = { name: 'crit-pool', pods, model: 'llama-3.1-8b', adapters: [], engine: ENGINE };
    const random = seeded(params.seed, 5);
    const requests: RequestSpec[] = [];
    let n = 0;
    const add = (at: number, criticality: Criticality) => {
      const parts = [part(`sys-${criticality}`, 400), part(`crit-${params.seed}-${n++}`, logNormal(random, 250, 0.9, 8, 4000))];
      requests.push({ at, pool: pool.name, model: pool.model, adapter: false, parts, promptTokens: tokensOf(parts), outputTokens: logNormal(random, 150, 0.8, 4, 1500), criticality });
    };
    poisson(random, params.rate, 0, params.durationMs, (at) => add(at, weighted(random, MIX)));
    const capacity = params.capacity ?? 0;
    if (!params.forCapacity && capacity > 0) {
      poisson(random, BURST * capacity, params.durationMs * 0.4, params.durationMs * 0.6, (at) => add(at, 'Sheddable'));
    }
    return finish('mixed-criticality', params, [pool], requests, 'Burst: +1.0× capacity of Sheddable traffic between 40% and 60% of the run');
  },
};
