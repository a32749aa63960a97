/**
 * Faults a simulated pod can be told to show, for reliability tests. Set at
 * start (CLI flags / options) or at run time with `POST /admin/faults`, which
 * replaces the whole set (omitted fields take their defaults, i.e. off).
 */
import * as v from 'valibot';

const fraction = v.pipe(v.number(), v.minValue(0), v.maxValue(1));
const ms = v.pipe(v.number(), v.minValue(0));

export const FaultConfig = v.strictObject({
  /** Fraction of inference requests answered with `error_status` instead. */
  error_rate: v.optional(fraction, 0),
  error_status: v.optional(v.picklist([429, 500, 503]), 500),
  /** Hold the response this long before the first token (headers included). */
  stall_ms: v.optional(ms, 0),
  /** Fraction of requests stalled (when stall_ms > 0). */
  stall_rate: v.optional(fraction, 1),
  /** Cut the connection of a streaming response after this many tokens (0 = off). */
  disconnect_after_tokens: v.optional(v.pipe(v.number(), v.integer(), v.minValue(0)), 0),
  /** Fraction of streaming requests cut (when disconnect_after_tokens > 0). */
  disconnect_rate: v.optional(fraction, 1),
  /** /health answers 503. */
  unhealthy: v.optional(v.boolean(), false),
  /** Close the listening socket; listen again on the same port when cleared. */
  stop_listening: v.optional(v.boolean(), false),
  /** With stop_listening: listen again by itself after this long (0 = only when cleared). */
  stop_listening_ms: v.optional(ms, 0),
});
export type FaultConfig = v.InferOutput<typeof FaultConfig>;
export type FaultInput = v.InferInput<typeof FaultConfig>;

export const noFaults: Readonly<FaultConfig> = Object.freeze(v.parse(FaultConfig, {}));

/** Validates a fault set, naming the field at fault. */
export function parseFaults(input: unknown): { ok: true; faults: FaultConfig } | { ok: false; message: string } {
  const r = v.safeParse(FaultConfig, input);
  if (r.success) return { ok: true, faults: r.output };
  const issue = r.issues[0];
  const path = issue.path?.map((p) => String(p.key)).join('.');
  return { ok: false, message: path ? `faults.${path}: ${issue.message}` : `faults: ${issue.message}` };
}

/** What happens to one request, drawn from the pod's seeded random stream. */
export interface FaultDecision {
  errorStatus: number;
  stallMs: number;
  disconnectAfter: number;
}

export function decideFaults(f: FaultConfig, random: () => number): FaultDecision {
  const errorStatus = f.error_rate > 0 && random() < f.error_rate ? f.error_status : 0;
  const stallMs = f.stall_ms > 0 && random() < f.stall_rate ? f.stall_ms : 0;
  const disconnectAfter = f.disconnect_after_tokens > 0 && random() < f.disconnect_rate ? f.disconnect_after_tokens : 0;
  return { errorStatus, stallMs, disconnectAfter };
}
