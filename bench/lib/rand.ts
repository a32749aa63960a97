/** Seeded random draws for the benchmarks (mulberry32 underneath, as the simulator uses): one seed and stream, one sequence. */
import { rng } from '../../src/sim/text.ts';

export type Random = () => number;

export function seeded(seed: number, stream = 0): Random {
  return rng((Math.imul(seed, 0x9e3779b1) ^ Math.imul(stream + 1, 0x85ebca6b)) >>> 0);
}

/** Exponential with the given mean. */
export function exponential(random: Random, mean: number): number {
  return -Math.log(1 - random()) * mean;
}

/** Log-normal with the given median and sigma (of the underlying normal), clamped to [min, max], rounded. */
export function logNormal(random: Random, median: number, sigma: number, min: number, max: number): number {
  const u = Math.max(random(), 1e-12);
  const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
  return Math.round(Math.min(max, Math.max(min, median * Math.exp(sigma * z))));
}

/** Log-uniform in [min, max], rounded: as many values between 150 and 300 as between 1 500 and 3 000. */
export function logUniform(random: Random, min: number, max: number): number {
  return Math.round(min * Math.exp(random() * Math.log(max / min)));
}

/**
 * Draws from `values` without replacement, reshuffling when all are drawn: every value
 * comes up once per round, so sums over many draws stay close to their mean (a
 * stratified sample) while single draws are still spread over all of them.
 */
export function deck<T>(random: Random, values: readonly T[]): () => T {
  const cards = values.slice();
  let next = cards.length;
  return () => {
    if (next === cards.length) {
      for (let i = cards.length - 1; i > 0; i--) {
        const j = Math.floor(random() * (i + 1));
        [cards[i], cards[j]] = [cards[j]!, cards[i]!];
      }
      next = 0;
    }
    return cards[next++]!;
  };
}

/** Integers min..max, for `deck`. */
export function range(min: number, max: number): number[] {
  return Array.from({ length: max - min + 1 }, (_, i) => min + i);
}

/** Gamma-distributed with shape `k` (an integer) and the given mean: a sum of k exponentials; k = 1 is exponential. */
export function gamma(random: Random, k: number, mean: number): number {
  let sum = 0;
  for (let i = 0; i < k; i++) sum += exponential(random, mean / k);
  return sum;
}

/** Integer uniform in [min, max]. */
export function uniformInt(random: Random, min: number, max: number): number {
  return min + Math.floor(random() * (max - min + 1));
}

/** A Zipf(s) sampler over ranks 0..n-1 (rank 0 most popular), by inverse CDF. */
export function zipf(n: number, s: number): (random: Random) => number {
  const cdf: number[] = [];
  let sum = 0;
  for (let k = 1; k <= n; k++) cdf.push((sum += 1 / k ** s));
  for (let k = 0; k < n; k++) cdf[k]! /= sum;
  return (random) => {
    const u = random();
    let lo = 0;
    let hi = n - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (cdf[mid]! < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };
}

/** Picks from weighted options. */
export function weighted<T>(random: Random, options: readonly (readonly [T, number])[]): T {
  let total = 0;
  for (const [, w] of options) total += w;
  let u = random() * total;
  for (const [v, w] of options) if ((u -= w) < 0) return v;
  return options[options.length - 1]![0];
}
