/** Gathers one run's numbers: per-request TTFT/E2E (exact percentiles), per-token gaps (log histogram), tokens in the window, hits, sheds. */
import type { Sequence } from '../../src/sim/index.ts';
import type { Criticality } from '../../src/routing/schema.ts';
import { LogHistogram, percentile, Samples } from '../lib/stats.ts';
import { GroupCollector } from './groups.ts';
import type { RunMetrics, Workload } from './types.ts';

export class RunCollector {
  readonly #ttft = new Samples();
  readonly #e2e = new Samples();
  readonly #itl = new LogHistogram();
  readonly #lateQueue = new Samples();
  readonly #shed = { Critical: 0, Standard: 0, Sheddable: 0 };
  #errors = 0;
  #unfinished = 0;
  #windowTokens = 0;
  #windowDone = 0;
  #measured = 0;
  #promptTokens = 0;
  #cachedTokens = 0;
  readonly #from: number;
  readonly #to: number;
  readonly #groups: GroupCollector;

  constructor(
    readonly workload: Workload,
    readonly strategy: string,
  ) {
    this.#from = workload.warmupMs;
    this.#to = workload.durationMs;
    this.#groups = new GroupCollector(workload.groups);
  }

  token(_at: number, measured: boolean, output: number, now: number, last: number): void {
    if (now >= this.#from && now < this.#to) this.#windowTokens++;
    if (measured && output > 1) this.#itl.observe(now - last);
  }

  /** Any request (measured or not) finished at `now`. */
  done(now: number): void {
    if (now >= this.#from && now < this.#to) this.#windowDone++;
  }

  started(_seq: Sequence, groups?: readonly string[]): void {
    this.#measured++;
    this.#groups.measured(groups);
  }

  finished(seq: Sequence, at: number, now: number, groups?: readonly string[]): void {
    const ttft = (seq.firstTokenMs >= 0 ? seq.firstTokenMs : now) - at;
    this.#ttft.push(ttft);
    this.#groups.served(groups, ttft);
    this.#e2e.push(now - at);
    if (at >= (this.#from + this.#to) / 2) this.#lateQueue.push(seq.admittedMs - at);
    if (seq.cachedTokens >= 0) {
      this.#promptTokens += seq.promptTokens;
      this.#cachedTokens += seq.cachedTokens;
    }
  }

  /** Still queued or running when the simulation stopped: censored at `end` (a lower bound). */
  unfinished(seq: Sequence, at: number, end: number, groups?: readonly string[]): void {
    this.#unfinished++;
    const ttft = (seq.firstTokenMs >= 0 ? seq.firstTokenMs : end) - at;
    this.#ttft.push(ttft);
    this.#groups.served(groups, ttft);
    this.#groups.lost(groups, false);
    this.#e2e.push(end - at);
    if (at >= (this.#from + this.#to) / 2) this.#lateQueue.push(seq.admittedMs >= 0 ? seq.admittedMs - at : end - at);
  }

  shed(c: Criticality, groups?: readonly string[]): void {
    this.#measured++;
    this.#shed[c]++;
    this.#groups.measured(groups);
    this.#groups.lost(groups, true);
  }

  error(groups?: readonly string[]): void {
    this.#measured++;
    this.#errors++;
    this.#groups.measured(groups);
    this.#groups.lost(groups, false);
  }

  /** Prompt tokens served from the prefix cache, measured requests. */
  addPrefix(prompt: number, cached: number): void {
    this.#promptTokens += prompt;
    this.#cachedTokens += cached;
  }

  result(adapterLoads: number, wallMs: number): RunMetrics {
    const ttft = this.#ttft.sorted();
    const e2e = this.#e2e.sorted();
    return {
      strategy: this.strategy,
      requests: this.workload.requests.length,
      measured: this.#measured,
      ttft: { p50: percentile(ttft, 0.5), p90: percentile(ttft, 0.9), p99: percentile(ttft, 0.99) },
      itl: { p50: this.#itl.percentile(0.5), p99: this.#itl.percentile(0.99) },
      e2eP99: percentile(e2e, 0.99),
      lateQueueP50: percentile(this.#lateQueue.sorted(), 0.5),
      outputTokensPerS: (this.#windowTokens * 1000) / Math.max(1, this.#to - this.#from),
      completedPerS: (this.#windowDone * 1000) / Math.max(1, this.#to - this.#from),
      prefixHitRate: this.#promptTokens > 0 ? this.#cachedTokens / this.#promptTokens : 0,
      adapterLoads,
      shed: { ...this.#shed },
      errors: this.#errors,
      unfinished: this.#unfinished,
      wallMs,
      groups: this.#groups.result(),
    };
  }
}
