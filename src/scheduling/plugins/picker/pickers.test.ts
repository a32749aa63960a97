import { describe, expect, it } from 'vitest';
import { PickerKind } from '../../kernel/layout.ts';
import { TwinKernel } from '../../kernel/twin.ts';

/** Pick among fixed totals (one scorer: kv-cache with usage = 1 − total). */
function picks(totals: number[], picker: number, seeds = 2000): number[] {
  const k = new TwinKernel();
  totals.forEach((t, i) => (k.kvUsage[i] = 1 - t));
  k.scorerKind[0] = 3;
  k.scorerWeight[0] = 1;
  const counts = totals.map(() => 0);
  for (let s = 0; s < seeds; s++) counts[k.scoreAndPick(totals.length, 1, 0, picker, s * 2654435761, 2)]!++;
  return counts;
}

describe('pickers', () => {
  it('max-score picks the best', () => {
    expect(picks([0.2, 0.9, 0.5], PickerKind.maxScore)).toEqual([0, 2000, 0]);
  });

  it('max-score breaks ties at random, evenly', () => {
    const c = picks([0.9, 0.2, 0.9, 0.9], PickerKind.maxScore, 3000);
    expect(c[1]).toBe(0);
    for (const i of [0, 2, 3]) expect(c[i]).toBeGreaterThan(850);
  });

  it('random picks everyone', () => {
    const c = picks([1, 0, 0.5, 0.25], PickerKind.random, 4000);
    for (const n of c) expect(n).toBeGreaterThan(850);
  });

  it('weighted-random follows the totals', () => {
    const c = picks([0.75, 0.25, 0], PickerKind.weightedRandom, 4000);
    expect(c[2]).toBe(0);
    expect(c[0]! / 4000).toBeCloseTo(0.75, 1);
  });

  it('weighted-random is uniform when every total is 0', () => {
    const c = picks([0, 0], PickerKind.weightedRandom, 2000);
    expect(Math.min(...c)).toBeGreaterThan(850);
  });

  it('writes fallbacks best first, ties to the lower index', () => {
    const k = new TwinKernel();
    [0.5, 0.9, 0.5, 0.7].forEach((t, i) => (k.kvUsage[i] = 1 - t));
    k.scorerKind[0] = 3;
    k.scorerWeight[0] = 1;
    expect(k.scoreAndPick(4, 1, 0, PickerKind.maxScore, 7, 8)).toBe(1);
    expect(Array.from(k.order.slice(0, 6))).toEqual([1, 3, 0, 2, -1, -1]);
  });
});
