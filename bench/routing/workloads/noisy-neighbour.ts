/**
 * noisy-neighbour — issue 17's second flow-control workload: one tenant
 * floods the pool shared with four quiet ones. Tenants are fairness flows
 * (`x-llm-d-inference-fairness-id` end to end). Half the requests come from
 * the quiet tenants `tenant-a`…`tenant-d` (40/30/20/10% of that half:
 * interactive chat — a 400-token system prompt per tenant, ShareGPT-like
 * prompts and answers, Poisson); the other half from `tenant-e`, a batch job
 * (1.5k-token documents, ~120-token answers) that arrives on/off: 5 s of
 * every 20 s at 4× its mean rate, so while it floods the pool is offered
 * (0.5 + 2) × the level. Reported per tenant: TTFT p99; and the quiet
 * tenants' p99 against their unloaded value — the same quiet requests run
 * alone (the `unloaded` run) — where issue 17's target is ≤ 1.2×.
 */
import { logNormal, seeded, weighted } from '../../lib/rand.ts';
import type { RequestSpec, Workload, WorkloadDef } from '../types.ts';
import { finish, onOff, opaquePart, poisson, tokensOf, warmupOf, NEUTRAL_RUN, neutralPool } from './common.ts';

export const NOISY = {
  quiet: [['tenant-a', 0.4], ['tenant-b', 0.3], ['tenant-c', 0.2], ['tenant-d', 0.1]] as const,
  flooding: 'tenant-e',
  /** The flooding tenant's share of requests. */
  floodShare: 0.5,
  periodMs: 20_000,
  onMs: 5000,
  /** The first flood window of the measurement starts this long after the warm-up. */
  firstOnMs: 7500,
};

export const TENANT_GROUPS = [...NOISY.quiet.map(([t]) => t), NOISY.flooding, 'quiet'] as const;

export const noisyNeighbour: WorkloadDef = {
  name: 'noisy-neighbour',
  describe: '8 pods; four quiet chat tenants (half the requests) and one batch tenant that floods on/off (5 s of every 20 s at 4× its mean rate)',
  ...NEUTRAL_RUN,
  generate(params) {
    const pool = neutralPool(params);
    const random = seeded(params.seed, 24);
    const requests: RequestSpec[] = [];
    let n = 0;
    poisson(random, params.rate * (1 - NOISY.floodShare), 0, params.durationMs, (at) => {
      const tenant = weighted(random, NOISY.quiet);
      const parts = [opaquePart(`system-${tenant}`, 400), opaquePart(`${params.seed}/prompt-${n++}`, logNormal(random, 250, 0.9, 8, 4000))];
      requests.push({
        at, pool: pool.name, model: pool.model, adapter: false, parts, promptTokens: tokensOf(parts),
        outputTokens: logNormal(random, 150, 0.8, 4, 1500), criticality: 'Standard', tenant, groups: [tenant, 'quiet'],
      });
    });
    const flood = (at: number) => {
      const parts = [opaquePart(`system-${NOISY.flooding}`, 200), opaquePart(`${params.seed}/document-${n++}`, logNormal(random, 1500, 0.6, 200, 8000))];
      requests.push({
        at, pool: pool.name, model: pool.model, adapter: false, parts, promptTokens: tokensOf(parts),
        outputTokens: logNormal(random, 120, 0.6, 8, 800), criticality: 'Standard', tenant: NOISY.flooding, groups: [NOISY.flooding],
      });
    };
    const floodRate = params.rate * NOISY.floodShare;
    // The capacity probe takes the batch tenant steady (bursts are what the load levels then add).
    if (params.forCapacity) poisson(random, floodRate, 0, params.durationMs, flood);
    // Windows placed so that the measurement holds whole ones (5 in 102 s): a phase that cut one in two would
    // move the flooding tenant's share of the measured traffic by a tenth from run to run.
    else onOff(random, floodRate, NOISY.periodMs, NOISY.onMs, warmupOf(params) + NOISY.firstOnMs, 0, params.durationMs, flood);
    const w = finish('noisy-neighbour', params, [pool], requests, `${NOISY.flooding} floods 5 s of every 20 s at 4× its mean rate; "unloaded" = the quiet tenants' requests alone`);
    return { ...w, groups: TENANT_GROUPS };
  },
  unloaded(w: Workload): Workload {
    return { ...w, requests: w.requests.filter((r) => r.tenant !== NOISY.flooding) };
  },
};
