/**
 * Per-group figures of one run (RequestSpec.groups: a request's criticality,
 * its tenant, "quiet"…): TTFT percentiles over the group's measured requests
 * and how many of them were lost (shed, failed, or unfinished at the end).
 */
import { percentile, Samples } from '../lib/stats.ts';
import type { GroupMetrics } from './types.ts';

interface Tally {
  ttft: Samples;
  measured: number;
  lost: number;
  shed: number;
}

export class GroupCollector {
  readonly #groups = new Map<string, Tally>();

  constructor(names: readonly string[] = []) {
    for (const n of names) this.#tally(n);
  }

  #tally(name: string): Tally {
    let t = this.#groups.get(name);
    if (t === undefined) this.#groups.set(name, (t = { ttft: new Samples(), measured: 0, lost: 0, shed: 0 }));
    return t;
  }

  /** A measured request got its first token `ttftMs` after arriving (censored at the end if it never did). */
  served(groups: readonly string[] | undefined, ttftMs: number): void {
    if (groups) for (const g of groups) this.#tally(g).ttft.push(ttftMs);
  }

  /** A measured request counted in the groups (every measured request, once). */
  measured(groups: readonly string[] | undefined): void {
    if (groups) for (const g of groups) this.#tally(g).measured++;
  }

  /** A measured request that was shed (429), failed, or never finished. */
  lost(groups: readonly string[] | undefined, shed: boolean): void {
    if (!groups) return;
    for (const g of groups) {
      const t = this.#tally(g);
      t.lost++;
      if (shed) t.shed++;
    }
  }

  result(): Record<string, GroupMetrics> | undefined {
    if (this.#groups.size === 0) return undefined;
    const out: Record<string, GroupMetrics> = {};
    for (const [name, t] of this.#groups) {
      const s = t.ttft.sorted();
      out[name] = { measured: t.measured, ttft: { p50: percentile(s, 0.5), p90: percentile(s, 0.9), p99: percentile(s, 0.99) }, lost: t.lost, shed: t.shed };
    }
    return out;
  }
}
