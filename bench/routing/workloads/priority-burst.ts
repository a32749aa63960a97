/**
 * priority-burst — issue 17's first flow-control workload: who is served
 * when a burst saturates the pool. Steady traffic at the load level is
 * Critical / Standard / Sheddable 20/50/30 (InferenceObjectives of priority
 * 1 / 0 / −1, chosen per request as mixed-criticality does: the request's
 * criticality here, the `x-gateway-inference-objective` header end to end);
 * each class has its own 400-token system prompt, the rest of the prompt is
 * unique (ShareGPT-like lengths). Between 40% and 55% of the run a burst of
 * extra **Standard** traffic worth 1.0 × capacity arrives: Standard cannot be
 * shed, so without flow control it fills the pods' queues and Critical
 * requests wait behind it (issue 17 measured 3.7–4.8 s). Reported per class:
 * TTFT p50/p99 and requests lost (shed, failed or unfinished) — the
 * acceptance figures are Critical's p99 at 110% and Critical lost.
 */
import type { Criticality } from '../../../src/routing/schema.ts';
import { logNormal, seeded, weighted } from '../../lib/rand.ts';
import type { RequestSpec, WorkloadDef } from '../types.ts';
import { finish, opaquePart, poisson, tokensOf, NEUTRAL_RUN, neutralPool } from './common.ts';

export const PRIORITY_BURST = {
  mix: [['Critical', 0.2], ['Standard', 0.5], ['Sheddable', 0.3]] as const satisfies readonly (readonly [Criticality, number])[],
  /** Extra Standard traffic during the burst, as a share of capacity. */
  burst: 1.0,
  burstFrom: 0.4,
  burstTo: 0.55,
};

export const CLASSES: readonly Criticality[] = ['Critical', 'Standard', 'Sheddable'];

export const priorityBurst: WorkloadDef = {
  name: 'priority-burst',
  describe: '8 pods; Critical/Standard/Sheddable 20/50/30, and a burst of Standard traffic worth +1.0× capacity for 15% of the run',
  ...NEUTRAL_RUN,
  generate(params) {
    const pool = neutralPool(params);
    const random = seeded(params.seed, 23);
    const requests: RequestSpec[] = [];
    let n = 0;
    const add = (at: number, criticality: Criticality) => {
      const parts = [opaquePart(`class-${criticality}`, 400), opaquePart(`${params.seed}/prompt-${n++}`, logNormal(random, 250, 0.9, 8, 4000))];
      requests.push({
        at, pool: pool.name, model: pool.model, adapter: false, parts, promptTokens: tokensOf(parts),
        outputTokens: logNormal(random, 150, 0.8, 4, 1500), criticality, groups: [criticality],
      });
    };
    poisson(random, params.rate, 0, params.durationMs, (at) => add(at, weighted(random, PRIORITY_BURST.mix)));
    const capacity = params.capacity ?? 0;
    if (!params.forCapacity && capacity > 0) {
      poisson(random, PRIORITY_BURST.burst * capacity, params.durationMs * PRIORITY_BURST.burstFrom, params.durationMs * PRIORITY_BURST.burstTo, (at) => add(at, 'Standard'));
    }
    const w = finish('priority-burst', params, [pool], requests, `Burst: +${PRIORITY_BURST.burst}× capacity of Standard traffic between ${Math.round(PRIORITY_BURST.burstFrom * 100)}% and ${Math.round(PRIORITY_BURST.burstTo * 100)}% of the run`);
    return { ...w, groups: CLASSES };
  },
};
