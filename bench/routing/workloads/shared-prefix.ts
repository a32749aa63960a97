/**
 * shared-prefix — 8 pods; 32 long system prompts (2k–8k tokens, uniform)
 * shared by 85% of conversations (Zipf(0.6) popularity over the 32), a tail
 * of 15% conversations with a unique 1k–3k-token preamble; conversations have
 * 1–12 turns (mean ~4), each turn adds a ~300-token user message and the
 * previous ~250-token answer to the prompt, so it grows (to ~7k tokens on
 * average by the 4th turn); the next turn comes ~15 s (exponential think
 * time) after the previous answer would end.
 * Conversation starts are Poisson; they begin 240 s before t = 0 so the
 * request rate is steady from the start. The last 60 s of turns before t = 0
 * are replayed as warm-up (the pods' caches and the routers' indexes then
 * hold the histories a running cluster would: ~96% of next turns come within
 * 60 s); earlier ones are dropped. Runs shorter than a minute (--quick)
 * replay half their length.
 */
import { exponential, logNormal, seeded, uniformInt, zipf } from '../../lib/rand.ts';
import type { RequestSpec, TextPart, WorkloadDef } from '../types.ts';
import { ENGINE, finish, part, poisson, tokensOf } from './common.ts';

const SYSTEM_PROMPTS = 32;
const MEAN_TURNS = 4;
const MAX_TURNS = 12;
const THINK_MS = 15_000;
const PRE_ROLL_MS = 240_000;
const MAX_HISTORY_MS = 60_000;

export const sharedPrefix: WorkloadDef = {
  name: 'shared-prefix',
  describe: '8 pods, 32 system prompts of 2–8k tokens shared by 85% of multi-turn conversations',
  pods: 8,
  durationMs: 120_000,
  quickDurationMs: 30_000,
  generate(params) {
    const pods = params.pods ?? 8;
    const pool = { name: 'prefix-pool', pods, model: 'llama-3.1-8b', adapters: [], engine: ENGINE };
    const random = seeded(params.seed, 4);
    const sysLen = Array.from({ length: SYSTEM_PROMPTS }, (_, i) => uniformInt(seeded(1000 + i), 2000, 8000));
    const pickSys = zipf(SYSTEM_PROMPTS, 0.6);
    const requests: RequestSpec[] = [];
    const historyMs = params.durationMs >= MAX_HISTORY_MS ? MAX_HISTORY_MS : params.durationMs / 2;
    let conv = 0;
    poisson(random, params.rate / MEAN_TURNS, -PRE_ROLL_MS, params.durationMs, (start) => {
      const c = conv++;
      const parts: TextPart[] = [];
      if (random() < 0.85) {
        const s = pickSys(random);
        parts.push(part(`system-prompt-${s}`, sysLen[s]!));
      } else {
        parts.push(part(`preamble-${params.seed}-${c}`, uniformInt(random, 1000, 3000)));
      }
      const turns = Math.min(MAX_TURNS, 1 + Math.floor(exponential(random, MEAN_TURNS - 0.5)));
      let at = start;
      for (let t = 0; t < turns; t++) {
        parts.push(part(`user-${params.seed}-${c}-${t}`, logNormal(random, 300, 0.8, 8, 2000)));
        const output = logNormal(random, 250, 0.7, 8, 1000);
        const snapshot = parts.slice();
        if (at >= -historyMs && at < params.durationMs) {
          requests.push({ at, pool: pool.name, model: pool.model, adapter: false, parts: snapshot, promptTokens: tokensOf(snapshot), outputTokens: output, criticality: 'Standard' });
        }
        parts.push(part(`answer-${params.seed}-${c}-${t}`, output));
        at += output * 15 + exponential(random, THINK_MS);
      }
    });
    return finish('shared-prefix', params, [pool], requests, undefined, historyMs);
  },
};
