/**
 * multi-model — the first use case: two pools, `chatbot` (a Gemma-class
 * model, ShareGPT-like chat: ~200-token prompts, ~180-token answers) and
 * `recommender` (a DeepSeek-class model fed long item lists: ~1.5k-token
 * prompts, short ~60-token answers). Unique prompts; each pool gets its own
 * Poisson stream (rates per pool from the measured capacity, else 50/50).
 */
import { logNormal, seeded } from '../../lib/rand.ts';
import type { RequestSpec, WorkloadDef } from '../types.ts';
import { ENGINE, finish, part, poisson, tokensOf } from './common.ts';

export const multiModel: WorkloadDef = {
  name: 'multi-model',
  describe: 'two pools (chatbot: short chat; recommender: long prompts, short answers), 4 pods each',
  pods: 4,
  durationMs: 120_000,
  quickDurationMs: 20_000,
  generate(params) {
    const pods = params.pods ?? 4;
    const pools = [
      { name: 'chatbot', pods, model: 'gemma-3-27b', adapters: [], engine: ENGINE },
      { name: 'recommender', pods, model: 'deepseek-v3', adapters: [], engine: ENGINE },
    ];
    const requests: RequestSpec[] = [];
    let n = 0;
    for (const pool of pools) {
      const random = seeded(params.seed, pool.name === 'chatbot' ? 1 : 2);
      const rate = params.poolRates?.[pool.name] ?? params.rate / 2;
      poisson(random, rate, 0, params.durationMs, (at) => {
        const chat = pool.name === 'chatbot';
        const prompt = chat ? logNormal(random, 200, 0.9, 8, 4000) : logNormal(random, 1500, 0.5, 200, 8000);
        const output = chat ? logNormal(random, 180, 0.8, 4, 1500) : logNormal(random, 60, 0.6, 4, 400);
        const parts = [part(`${pool.name}-${params.seed}-${n++}`, prompt)];
        requests.push({ at, pool: pool.name, model: pool.model, adapter: false, parts, promptTokens: tokensOf(parts), outputTokens: output, criticality: 'Standard' });
      });
    }
    return finish('multi-model', params, pools, requests);
  },
};
