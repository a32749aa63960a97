/**
 * The decision explanation: compact, JSON-serialisable, meant for a response
 * header (`x-infergate-decision`). Lists the best few candidates with their
 * per-plugin scores, the metrics' age, and why endpoints were filtered out or
 * the request was shed — enough to debug a hot-spot without a debugger.
 */
import type { DecisionExplanation } from './scheduler.ts';
import { MAX_ENDPOINTS, type Kernel } from './kernel/layout.ts';
import type { Candidate, ExplainNotes, Rejection } from './plugins/types.ts';
import type { Profile } from './profile.ts';

/** Candidates listed in an explanation (the picked one first). */
export const EXPLAINED_CANDIDATES = 5;
/** Filtered-out endpoints listed (the rest are only counted). */
export const EXPLAINED_REJECTIONS = 8;

export interface CandidateExplanation {
  id: string;
  total: number;
  /** Score in [0, 1] per scorer name, before weighting. */
  scores: Record<string, number>;
  /** Age of the endpoint's metrics, ms. */
  ageMs: number;
  /** Plugins' notes on this endpoint (e.g. `prefix`: whether its prefix score came from KV events or the guess). */
  [note: string]: unknown;
}

export interface Explanation extends DecisionExplanation {
  kernel: 'wasm' | 'ts';
  picker?: string;
  weights?: Record<string, number>;
  saturation?: number;
  picked?: string;
  considered?: number;
  candidates?: CandidateExplanation[];
  filtered?: Rejection[];
  filteredCount?: number;
  /** Filters that would have removed every candidate, so were skipped. */
  bypassed?: string[];
  shed?: string;
  unavailable?: string;
  /** No fresh metrics and the pool fails open: picked by least in-flight. */
  failOpen?: boolean;
  /** The pool named a profile that does not exist; the default was used. */
  profileMissing?: string;
}

export function round4(x: number): number {
  return Number.isFinite(x) ? Math.round(x * 1e4) / 1e4 : x;
}

/** Fill in candidates and rejections after a scored pick. */
export function explainPick(
  out: Explanation,
  profile: Profile,
  kernel: Kernel,
  candidates: Candidate[],
  picked: number,
  rejected: Rejection[],
  notes?: ExplainNotes,
): void {
  out.picker = profile.picker.name;
  out.weights = Object.fromEntries(profile.scorers.map((s) => [s.plugin.name, s.weight]));
  out.picked = candidates[picked]!.endpoint.id;
  out.considered = candidates.length;
  const others = candidates.map((_, i) => i).filter((i) => i !== picked);
  others.sort((a, b) => kernel.total[b]! - kernel.total[a]! || a - b);
  const shown = [picked, ...others.slice(0, EXPLAINED_CANDIDATES - 1)];
  out.candidates = shown.map((i) => {
    const scores: Record<string, number> = {};
    profile.scorers.forEach((s, k) => {
      scores[s.plugin.name] = round4(kernel.scores[k * MAX_ENDPOINTS + i]!);
    });
    const id = candidates[i]!.endpoint.id;
    return { id, total: round4(kernel.total[i]!), scores, ageMs: Math.round(candidates[i]!.ageMs), ...(notes ? notes.candidate(id) : {}) };
  });
  if (notes) Object.assign(out, notes.pool);
  addRejections(out, rejected);
}

export function addRejections(out: Explanation, rejected: Rejection[]): void {
  if (rejected.length === 0) return;
  out.filtered = rejected.slice(0, EXPLAINED_REJECTIONS);
  if (rejected.length > EXPLAINED_REJECTIONS) out.filteredCount = rejected.length;
}
