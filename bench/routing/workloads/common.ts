/** Helpers shared by the workload generators. */
import type { EngineConfigOverrides } from '../../../src/sim/config.ts';
import { CHARS_PER_TOKEN } from '../../../src/sim/text.ts';
import { exponential, type Random } from '../../lib/rand.ts';
import { charsFor, textOfChars } from '../text.ts';
import type { RequestSpec, TextPart, Workload, WorkloadParams } from '../types.ts';

/** The engine used by every synthetic workload: the calibrated H100 profile with a 32k context. */
export const ENGINE: EngineConfigOverrides = { maxModelLen: 32_768 };

/** The prompt text of a request (parts concatenated). */
export function materialize(parts: readonly TextPart[]): string {
  if (parts.length === 1) return textOfChars(parts[0]![0], parts[0]![1]);
  let out = '';
  for (const [tag, chars] of parts) out += textOfChars(tag, chars);
  return out;
}

export function part(tag: string, tokens: number): TextPart {
  return [tag, charsFor(tokens)];
}

export function tokensOf(parts: readonly TextPart[]): number {
  let chars = 0;
  for (const [, c] of parts) chars += c;
  return Math.ceil(chars / CHARS_PER_TOKEN);
}

/** Poisson arrival times (ms) in [from, to) at `rate` per second, via `each`. */
export function poisson(random: Random, rate: number, from: number, to: number, each: (at: number) => void): void {
  if (!(rate > 0)) return;
  const gap = 1000 / rate;
  for (let t = from + exponential(random, gap); t < to; t += exponential(random, gap)) each(t);
}

/**
 * Sorts by arrival and wraps the requests up; warm-up is 15% of the duration.
 * `historyMs`: the requests were generated from t = −historyMs (conversations
 * whose earlier turns came before the measured run); they are shifted to
 * start at 0 and that history counts as warm-up, so the measured window
 * starts with the caches a steady state would have, not with every
 * conversation's history unseen.
 */
export function finish(name: string, params: WorkloadParams, pools: Workload['pools'], requests: RequestSpec[], notes?: string, historyMs = 0): Workload {
  requests.sort((a, b) => a.at - b.at);
  if (historyMs > 0) for (const r of requests) r.at += historyMs;
  const durationMs = params.durationMs + historyMs;
  return { name, pools, requests, durationMs, warmupMs: historyMs + Math.round(params.durationMs * 0.15), rate: params.rate, notes };
}
