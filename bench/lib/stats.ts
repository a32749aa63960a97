/**
 * The benchmarks' statistics: exact percentiles over sorted samples, the
 * median of a few runs, a growable sample list, and a fine log histogram for
 * per-token gaps.
 */

/** The q-quantile (0 < q ≤ 1) of ascending `sorted`: the smallest value with at least q of the samples at or below it. */
export function percentile(sorted: ArrayLike<number>, q: number): number {
  if (sorted.length === 0) return NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i]!;
}

/** The median of a few numbers (the middle two averaged when their count is even). */
export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[s.length >> 1]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
}

/** Growable list of numbers, sorted once at the end. */
export class Samples {
  #data = new Float64Array(1024);
  #n = 0;

  push(v: number): void {
    if (this.#n === this.#data.length) {
      const grown = new Float64Array(this.#n * 2);
      grown.set(this.#data);
      this.#data = grown;
    }
    this.#data[this.#n++] = v;
  }

  get count(): number {
    return this.#n;
  }

  sorted(): Float64Array {
    return this.#data.slice(0, this.#n).sort();
  }
}

/** Log-bucketed histogram (1% wide buckets from 0.01 ms): O(1) per sample, percentiles within 1%. */
export class LogHistogram {
  static readonly #base = Math.log(1.01);
  static readonly #min = 0.01;
  readonly #counts = new Float64Array(2400);
  count = 0;

  observe(ms: number): void {
    const i = ms <= LogHistogram.#min ? 0 : Math.min(2399, 1 + Math.floor(Math.log(ms / LogHistogram.#min) / LogHistogram.#base));
    this.#counts[i]!++;
    this.count++;
  }

  percentile(q: number): number {
    if (this.count === 0) return NaN;
    const target = Math.ceil(q * this.count);
    let seen = 0;
    for (let i = 0; i < this.#counts.length; i++) {
      seen += this.#counts[i]!;
      if (seen >= target) return i === 0 ? LogHistogram.#min : LogHistogram.#min * Math.exp((i - 0.5) * LogHistogram.#base);
    }
    return Infinity;
  }
}
