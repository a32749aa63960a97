/**
 * multi-lora — the second use case: one pool of 8 pods serving one base model
 * with `max_loras` 2, and 16 LoRA adapters whose popularity is Zipf (s = 1):
 * the top adapter gets ~30% of requests, the last ~2%. Each adapter has its
 * own 300-token system prompt; the rest of the prompt is unique
 * (ShareGPT-like lengths: ~250-token prompts, ~150-token answers).
 */
import { logNormal, seeded, zipf } from '../../lib/rand.ts';
import type { RequestSpec, WorkloadDef } from '../types.ts';
import { ENGINE, finish, part, poisson, tokensOf } from './common.ts';

export const ADAPTERS = Array.from({ length: 16 }, (_, i) => `lora-${String(i).padStart(2, '0')}`);

export const multiLora: WorkloadDef = {
  name: 'multi-lora',
  describe: '8 pods, max_loras 2, 16 adapters with Zipf(1) popularity',
  pods: 8,
  durationMs: 120_000,
  quickDurationMs: 40_000,
  generate(params) {
    const pods = params.pods ?? 8;
    const pool = { name: 'lora-pool', pods, model: 'llama-3.1-8b', adapters: ADAPTERS, engine: { ...ENGINE, maxLoras: 2 } };
    const random = seeded(params.seed, 3);
    const pick = zipf(ADAPTERS.length, 1);
    const requests: RequestSpec[] = [];
    let n = 0;
    poisson(random, params.rate, 0, params.durationMs, (at) => {
      const adapter = ADAPTERS[pick(random)]!;
      const parts = [part(`sys-${adapter}`, 300), part(`lora-${params.seed}-${n++}`, logNormal(random, 250, 0.9, 8, 4000))];
      requests.push({
        at, pool: pool.name, model: adapter, adapter: true, parts, promptTokens: tokensOf(parts),
        outputTokens: logNormal(random, 150, 0.8, 4, 1500), criticality: 'Standard',
      });
    });
    return finish('multi-lora', params, [pool], requests);
  },
};
