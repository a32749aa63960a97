/** A metric as the kernel may see it: finite and not negative. */
export function finiteNonNegative(x: number): number {
  return x > 0 && x < Infinity ? x : 0;
}
