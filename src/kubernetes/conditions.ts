/**
 * Conditions as Kubernetes defines them (metav1.Condition, "API Conventions":
 * typical status properties): `type`, `status` (True/False/Unknown), `reason`
 * in CamelCase, a human `message`, `observedGeneration` (the
 * metadata.generation the condition was computed from) and
 * `lastTransitionTime` (when `status` last changed — kept as it was when only
 * the reason or message changes).
 */
export interface Condition {
  type: string;
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
  observedGeneration: number;
  lastTransitionTime: string;
}

export type ConditionInput = Pick<Condition, 'type' | 'status' | 'reason' | 'message'>;

/** Conditions at `generation`, keeping each one's lastTransitionTime from `previous` when its status did not change. */
export function conditionsAt(wanted: readonly ConditionInput[], generation: number, previous: unknown, now: string): Condition[] {
  const before = Array.isArray(previous) ? (previous as Partial<Condition>[]) : [];
  return wanted.map((c) => {
    const old = before.find((p) => p.type === c.type);
    const since = old && old.status === c.status && typeof old.lastTransitionTime === 'string' ? old.lastTransitionTime : now;
    return { type: c.type, status: c.status, reason: c.reason, message: c.message.slice(0, 32_768), observedGeneration: generation, lastTransitionTime: since };
  });
}

/** RFC 3339 at second precision, as metav1.Time serialises. */
export function timeNow(now: number): string {
  return new Date(now).toISOString().replace(/\.\d+Z$/, 'Z');
}
