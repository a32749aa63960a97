/**
 * agent — what an agent framework sends (issue 19): a few large tool-set
 * system prompts shared by many sessions, sessions that grow by tool output,
 * bursty session starts, and one-shot prompts beside them.
 *
 * - 4 tool-set system prompts of 3k–8k tokens (uniform, fixed per index),
 *   Zipf(0.8) popularity (≈ 44/25/18/14%).
 * - A session opens with its tool set and a task (log-normal, median 250
 *   tokens) and runs 3–28 turns (uniform). Each turn the model answers with a
 *   tool call (median 60 tokens; the last turn a final answer, median 300);
 *   the tool runs (log-normal, median 600 ms) and its output — 150–3 500
 *   tokens, log-uniform — is appended with the call, so the next turn's
 *   prompt is the previous one plus ≈ 0.2k–3.9k tokens (≈ 40k tokens by the
 *   28th turn on average).
 * - Session starts come in clusters (an orchestrator launching several agents
 *   at once, or a batch of tasks): 2–6 sessions per cluster within 1 s, all
 *   on one tool set; clusters ~Gamma(8)-spaced (steadier than Poisson, so a
 *   run's load is what was asked for).
 * - A third of the requests are one-shot prompts with nothing to reuse:
 *   unique from their first token (log-normal, median 600 tokens, 20–12k).
 *
 * Arrivals are open-loop: the next turn comes ~15 ms per output token plus
 * the tool's time after the previous one. Sessions start 300 s before t = 0 so
 * the request rate is steady; the last 60 s of turns before t = 0 are
 * replayed as warm-up (half the run when it is shorter than a minute), as in
 * shared-prefix. Tags are opaque and the pool is `pool`: nothing in the
 * requests names the workload.
 */
import { deck, logNormal, logUniform, range, seeded, uniformInt, zipf } from '../../lib/rand.ts';
import type { RequestSpec, TextPart, WorkloadDef } from '../types.ts';
import { clustered, ENGINE, finish, opaquePart, poisson, tokensOf, NEUTRAL_RUN, neutralPool } from './common.ts';

export const AGENT = {
  toolSets: 4,
  toolSetTokens: [3000, 8000],
  turns: [3, 28],
  toolOutputTokens: [150, 3500],
  /** Share of requests that are one-shot prompts. */
  oneShotShare: 1 / 3,
  /** Sessions per cluster: 2–6 (mean 4), within 1 s; cluster gaps Gamma(shape 8). */
  clusterSizes: [2, 6],
  clusterSpreadMs: 1000,
  clusterGapShape: 8,
} as const;

const MEAN_TURNS = (AGENT.turns[0] + AGENT.turns[1]) / 2;
const PRE_ROLL_MS = 300_000;
const MAX_HISTORY_MS = 60_000;

/** Tool set i's length in tokens: the same for every seed (like shared-prefix's system prompts). */
export function toolSetTokens(i: number): number {
  return uniformInt(seeded(2000 + i), AGENT.toolSetTokens[0], AGENT.toolSetTokens[1]);
}

export const agent: WorkloadDef = {
  name: 'agent',
  describe: '8 pods; 4 tool-set system prompts of 3–8k tokens shared by agent sessions of 3–28 turns that grow by tool outputs of 150–3 500 tokens, sessions starting in clusters, and a third of the requests one-shot prompts with nothing to reuse',
  ...NEUTRAL_RUN,
  generate(params) {
    // Long sessions reach ~120k tokens at worst: the engine takes Llama 3.1's 128k context.
    const pool = neutralPool(params, { ...ENGINE, maxModelLen: 131_072 });
    const random = seeded(params.seed, 21);
    const pickToolSet = zipf(AGENT.toolSets, 0.8);
    const requests: RequestSpec[] = [];
    const historyMs = params.durationMs >= MAX_HISTORY_MS ? MAX_HISTORY_MS : params.durationMs / 2;
    const keep = (at: number) => at >= -historyMs && at < params.durationMs;
    const sessionRequestRate = params.rate * (1 - AGENT.oneShotShare);
    const tag = (s: string) => `${params.seed}/${s}`;

    let sessions = 0;
    const clusterToolSet = new Map<number, number>();
    // Turn counts and cluster sizes are dealt from decks (each value once per round), so the request rate a
    // run gets stays within a few percent of the one asked for; Poisson clusters of geometric sizes drifted ±20%.
    const turnCount = deck(random, range(AGENT.turns[0], AGENT.turns[1]));
    const clusterSize = deck(random, range(AGENT.clusterSizes[0], AGENT.clusterSizes[1]));
    const startSession = (start: number, toolSet: number) => {
      const id = sessions++;
      const turns = turnCount();
      const parts: TextPart[] = [opaquePart(`toolset-${toolSet}`, toolSetTokens(toolSet)), opaquePart(tag(`task-${id}`), logNormal(random, 250, 0.8, 30, 2000))];
      let at = start;
      for (let turn = 0; turn < turns; turn++) {
        const last = turn === turns - 1;
        const output = last ? logNormal(random, 300, 0.7, 20, 2000) : logNormal(random, 60, 0.6, 10, 400);
        if (keep(at)) {
          const snapshot = parts.slice();
          requests.push({
            at, pool: pool.name, model: pool.model, adapter: false, parts: snapshot, promptTokens: tokensOf(snapshot), outputTokens: output,
            criticality: 'Standard', session: { id, turn, turns },
          });
        }
        if (last) break;
        parts.push(opaquePart(tag(`call-${id}-${turn}`), output), opaquePart(tag(`tool-${id}-${turn}`), logUniform(random, AGENT.toolOutputTokens[0], AGENT.toolOutputTokens[1])));
        at += output * 15 + logNormal(random, 600, 1.0, 50, 10_000);
      }
    };
    const startRate = sessionRequestRate / MEAN_TURNS;
    if (params.forCapacity) {
      // The capacity probe takes steady traffic (as mixed-criticality's leaves its burst out).
      poisson(random, startRate, -PRE_ROLL_MS, params.durationMs, (at) => startSession(at, pickToolSet(random)));
    } else {
      const meanSize = (AGENT.clusterSizes[0] + AGENT.clusterSizes[1]) / 2;
      clustered(random, startRate, clusterSize, meanSize, AGENT.clusterGapShape, AGENT.clusterSpreadMs, -PRE_ROLL_MS, params.durationMs, (at, cluster) => {
        let toolSet = clusterToolSet.get(cluster);
        if (toolSet === undefined) clusterToolSet.set(cluster, (toolSet = pickToolSet(random)));
        startSession(at, toolSet);
      });
    }
    let n = 0;
    poisson(random, params.rate * AGENT.oneShotShare, -historyMs, params.durationMs, (at) => {
      const parts = [opaquePart(tag(`one-shot-${n++}`), logNormal(random, 600, 1.0, 20, 12_000))];
      requests.push({ at, pool: pool.name, model: pool.model, adapter: false, parts, promptTokens: tokensOf(parts), outputTokens: logNormal(random, 200, 0.8, 8, 2000), criticality: 'Standard' });
    });
    return finish('agent', params, [pool], requests, 'Session starts in clusters of 2–6 within 1 s; a third of the requests one-shot', historyMs);
  },
};
