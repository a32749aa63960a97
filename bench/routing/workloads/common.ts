/** Helpers shared by the workload generators. */
import type { EngineConfigOverrides } from '../../../src/sim/config.ts';
import { CHARS_PER_TOKEN } from '../../../src/sim/text.ts';
import { exponential, gamma, type Random } from '../../lib/rand.ts';
import { charsFor, textOfChars } from '../text.ts';
import type { PoolSpec, RequestSpec, TextPart, Workload, WorkloadDef, WorkloadParams } from '../types.ts';

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

/** The name of the pool in the workloads added since issue 19: the same for all of them, so it tells the scheduler nothing. */
export const NEUTRAL_POOL = 'pool';

/** The run of the workloads added since issue 19: 8 pods, 120 s (20 s quick, at 95%). */
export const NEUTRAL_RUN = { pods: 8, durationMs: 120_000, quickDurationMs: 20_000, quickLevel: 0.95 } as const satisfies Partial<WorkloadDef>;

/** Their one pool: `params.pods` pods (8 by default) of Llama 3.1 8B, no adapters. */
export function neutralPool(params: WorkloadParams, engine: EngineConfigOverrides = ENGINE): PoolSpec {
  return { name: NEUTRAL_POOL, pods: params.pods ?? NEUTRAL_RUN.pods, model: 'llama-3.1-8b', adapters: [], engine };
}

/**
 * A text tag that names nothing: 16 hex digits from two FNV-1a hashes of
 * `tag`. Prompt text opens with its tag (../text.ts), so generators whose
 * tags said "tool output" or "flooding tenant" would tell the scheduler which
 * workload it is in; these do not. Equal tags still give equal text.
 */
export function opaque(tag: string): string {
  let a = 0x811c9dc5;
  let b = 0x9747b28c;
  for (let i = 0; i < tag.length; i++) {
    const c = tag.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x5bd1e995) ^ (b >>> 13);
  }
  return (a >>> 0).toString(16).padStart(8, '0') + (b >>> 0).toString(16).padStart(8, '0');
}

/** A part whose text is determined by `tag` without showing it (see `opaque`). */
export function opaquePart(tag: string, tokens: number): TextPart {
  return [opaque(tag), charsFor(tokens)];
}

/**
 * Clustered arrivals: clusters start `gamma(shape)`-spaced (mean gap
 * `meanSize / rate`; shape 1 is Poisson, larger is steadier), each holds
 * `size()` arrivals spread uniformly over `spreadMs` after its start — e.g.
 * an orchestrator that launches several agents at once. The mean rate is
 * `rate` when `size()` averages `meanSize`. `each(at, cluster)` gets the
 * cluster's index.
 */
export function clustered(
  random: Random, rate: number, size: () => number, meanSize: number, shape: number, spreadMs: number, from: number, to: number,
  each: (at: number, cluster: number) => void,
): void {
  if (!(rate > 0)) return;
  const gap = (meanSize * 1000) / rate;
  let cluster = 0;
  for (let start = from + random() * gap; start < to; start += gamma(random, shape, gap)) {
    const c = cluster++;
    const times = Array.from({ length: size() }, () => start + random() * spreadMs).sort((x, y) => x - y);
    for (const at of times) if (at < to) each(at, c);
  }
}

/**
 * On/off arrivals: Poisson at `rate × periodMs / onMs` during the first
 * `onMs` of every `periodMs` (shifted by `phaseMs`), nothing in between — a
 * batch job that floods, pauses, floods. The mean rate is `rate`.
 */
export function onOff(random: Random, rate: number, periodMs: number, onMs: number, phaseMs: number, from: number, to: number, each: (at: number) => void): void {
  const peak = (rate * periodMs) / onMs;
  const first = Math.floor((from - phaseMs) / periodMs);
  for (let k = first; phaseMs + k * periodMs < to; k++) {
    const start = phaseMs + k * periodMs;
    poisson(random, peak, Math.max(from, start), Math.min(to, start + onMs), each);
  }
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
  return { name, pools, requests, durationMs, warmupMs: historyMs + warmupOf(params), rate: params.rate, notes };
}

/** The warm-up `finish` gives a run of `params.durationMs` (without replayed history): its first 15%. */
export function warmupOf(params: WorkloadParams): number {
  return Math.round(params.durationMs * 0.15);
}
