/**
 * document-qa — questions about long shared documents: long-context RAG that
 * puts whole documents into the prompt ("chat with your PDF", a contract, a
 * manual, a code base), as users of inference gateways run it beside chat.
 *
 * Why it is not one of the others: the shared prefix is the document, 4k–24k
 * tokens, not a 2–8k system prompt, and popularity is skewed (Zipf 1.1 over
 * 120 documents: the top one draws ~23% of the questions, more than one pod
 * of eight can serve), while all 120 (≈ 1.7M tokens) fit in the pool's KV
 * caches only if each pod keeps its own share. So a router must both
 * partition the documents (affinity: a cold 20k-token document costs ~1 s of
 * prefill) and replicate the hot ones over several pods (load) — piling a hot
 * document onto its one holder, or spraying cold ones everywhere, both lose.
 *
 * Each request: a 300-token system prompt (shared by all), the document, a
 * question (log-normal, median 60 tokens); answers median 200 tokens.
 * Poisson arrivals; single-turn. Tags are opaque and the pool is `pool`.
 */
import { logNormal, seeded, uniformInt, zipf } from '../../lib/rand.ts';
import type { RequestSpec, WorkloadDef } from '../types.ts';
import { finish, opaquePart, poisson, tokensOf, NEUTRAL_RUN, neutralPool } from './common.ts';

export const DOCUMENT_QA = {
  documents: 120,
  documentTokens: [4000, 24_000],
  zipf: 1.1,
  systemTokens: 300,
} as const;

/** Document i's length in tokens: the same for every seed. */
export function documentTokens(i: number): number {
  return uniformInt(seeded(3000 + i), DOCUMENT_QA.documentTokens[0], DOCUMENT_QA.documentTokens[1]);
}

export const documentQa: WorkloadDef = {
  name: 'document-qa',
  describe: '8 pods; questions about 120 documents of 4–24k tokens with Zipf(1.1) popularity (the top document ~23% of the traffic), whole documents in the prompt',
  ...NEUTRAL_RUN,
  generate(params) {
    const pool = neutralPool(params);
    const random = seeded(params.seed, 22);
    const pick = zipf(DOCUMENT_QA.documents, DOCUMENT_QA.zipf);
    const requests: RequestSpec[] = [];
    let n = 0;
    poisson(random, params.rate, 0, params.durationMs, (at) => {
      const doc = pick(random);
      const parts = [
        opaquePart('system', DOCUMENT_QA.systemTokens),
        opaquePart(`document-${doc}`, documentTokens(doc)),
        opaquePart(`${params.seed}/question-${n++}`, logNormal(random, 60, 0.7, 10, 400)),
      ];
      requests.push({ at, pool: pool.name, model: pool.model, adapter: false, parts, promptTokens: tokensOf(parts), outputTokens: logNormal(random, 200, 0.7, 8, 1000), criticality: 'Standard' });
    });
    return finish('document-qa', params, [pool], requests);
  },
};
