/**
 * What `bench:decision` measures: a pool snapshot with live metrics and the
 * prompts its requests carry. Two shapes of prompt (issue 19):
 *
 * - `chat-32k`: 256 endpoints, 32 KiB chat prompts — 64 conversations sharing
 *   a 7.7 KB system prompt (the benchmark's original case);
 * - `long-240k`: 96 endpoints, 240k-token (960 000-byte, ~1 MB) prompts — 16
 *   long-context requests (a whole document or a long agent history) sharing
 *   the same system prompt, on pods with an H100's KV capacity (28 800 blocks
 *   of 16 tokens = 460k tokens, so one such prompt fits).
 *
 * The prompt text is the routing benchmark's deterministic English-like text.
 */
import type { Endpoint } from '../../src/endpoints/types.ts';
import type { Random } from '../lib/rand.ts';
import { textOfChars } from '../routing/text.ts';

export interface DecisionCase {
  name: string;
  describe: string;
  endpoints: number;
  /** Prompt size, bytes (= characters: the text is ASCII). */
  promptBytes: number;
  /** Distinct prompts; request r carries prompt r mod conversations. */
  conversations: number;
  /** KV blocks per endpoint (the prefix index keeps as many 64-byte entries per endpoint). */
  totalBlocks: number;
  /** Decisions to warm up (JIT, the prefix index filled) and to measure. */
  warmup: number;
  decisions: number;
  quickDecisions: number;
}

export const CASES: DecisionCase[] = [
  {
    name: 'chat-32k', describe: '256 endpoints, 32 KiB chat prompt', endpoints: 256, promptBytes: 32 * 1024, conversations: 64,
    totalBlocks: 8192, warmup: 3000, decisions: 20_000, quickDecisions: 2000,
  },
  {
    name: 'long-240k', describe: '96 endpoints, 240k-token (~1 MB) prompt', endpoints: 96, promptBytes: 240_000 * 4, conversations: 16,
    totalBlocks: 28_800, warmup: 500, decisions: 5000, quickDecisions: 300,
  },
];

export function caseByName(name: string): DecisionCase | undefined {
  return CASES.find((c) => c.name === name);
}

export function makeEndpoints(c: DecisionCase, now: number, random: Random): Endpoint[] {
  return Array.from({ length: c.endpoints }, (_, i) => ({
    id: `10.1.${i >> 8}.${i & 255}:8000`,
    address: `10.1.${i >> 8}.${i & 255}`,
    port: 8000,
    labels: { app: 'vllm' },
    ready: true,
    engine: 'vllm',
    scrapedAt: now - Math.floor(random() * 50),
    metrics: {
      waiting: Math.floor(random() * 6),
      running: Math.floor(random() * 64),
      kvUsage: random() * 0.9,
      activeAdapters: i % 3 === 0 ? ['english-bot'] : ['spanish-bot'],
      waitingAdapters: [],
      maxAdapters: 4,
      blockSize: 16,
      totalBlocks: c.totalBlocks,
    },
  }));
}

const SYSTEM = 'system: You are a careful assistant for an airline. Answer briefly and cite the policy section. '.repeat(80);

/** Prompt `conversation` of the case: the shared system prompt, then text of its own, `promptBytes` in all. */
export function casePrompt(c: DecisionCase, conversation: number): string {
  if (c.name === 'chat-32k') {
    // Kept as the original benchmark wrote it, so its figures stay comparable with earlier runs.
    const user = `user: conversation ${conversation}: ` + 'I would like to change my booking to a later flight, please. '.repeat(400);
    return (SYSTEM + user).slice(0, c.promptBytes);
  }
  return SYSTEM + textOfChars(`document-${conversation}`, c.promptBytes - SYSTEM.length);
}
