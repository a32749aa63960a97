/**
 * The routing table on the wire (infergate.v1.RoutingTable) and back. Going
 * in, unset fields and UNSPECIFIED enums become "absent" so that the valibot
 * schema applies the same defaults as for YAML, and unknown enum numbers are
 * kept as text so that validation names the field. Going out, every field
 * the table has is written.
 */
import { create } from '@bufbuild/protobuf';
import {
  AppProtocol,
  Criticality,
  FailureMode,
  HeaderMatchType,
  PathMatchType,
  RoutingTableSchema,
  type RoutingTable as WireTable,
} from '../gen/infergate/v1/routing_pb.ts';
import type { RoutingTableInput } from '../routing/schema.ts';

type EnumMap = Record<string, number>;
const pathTypes: EnumMap = { Exact: PathMatchType.EXACT, PathPrefix: PathMatchType.PATH_PREFIX };
const headerTypes: EnumMap = { Exact: HeaderMatchType.EXACT, RegularExpression: HeaderMatchType.REGULAR_EXPRESSION };
const protocols: EnumMap = { http: AppProtocol.HTTP, h2c: AppProtocol.H2C };
const failureModes: EnumMap = { FailOpen: FailureMode.FAIL_OPEN, FailClose: FailureMode.FAIL_CLOSE };
const criticalities: EnumMap = { Critical: Criticality.CRITICAL, Standard: Criticality.STANDARD, Sheddable: Criticality.SHEDDABLE };

/** A value no enum uses: an unknown name still reaches the server, which names the field. */
const UNKNOWN = 999;

function toEnum(map: EnumMap, value: unknown): number {
  if (value === undefined) return 0;
  return typeof value === 'string' && value in map ? map[value]! : UNKNOWN;
}

function fromEnum(map: EnumMap, value: number): string | undefined {
  if (value === 0) return undefined;
  for (const [name, n] of Object.entries(map)) if (n === value) return name;
  return `(unknown enum value ${value})`;
}

/** A count as int64; a value that is not a safe integer is sent as-is for validation to name (never rounded to something valid). */
function int64(value: unknown): bigint | undefined {
  if (value === undefined) return undefined;
  return typeof value === 'number' && Number.isSafeInteger(value) ? BigInt(value) : (value as bigint);
}

/** Plain input (YAML import or a validated table) → wire. */
export function tableToWire(t: RoutingTableInput): WireTable {
  return create(RoutingTableSchema, {
    version: BigInt(t.version ?? 0),
    routes: (t.routes ?? []).map((r) => ({
      name: r.name,
      hostnames: r.hostnames ?? [],
      rules: r.rules.map((rule) => ({
        matches: (rule.matches ?? []).map((m) => ({
          path: m.path ? { type: toEnum(pathTypes, m.path.type), value: m.path.value } : undefined,
          headers: (m.headers ?? []).map((h) => ({ type: toEnum(headerTypes, h.type), name: h.name, value: h.value })),
          queryParams: (m.queryParams ?? []).map((h) => ({ type: toEnum(headerTypes, h.type), name: h.name, value: h.value })),
          method: m.method,
        })),
        backendRefs: rule.backendRefs.map((b) => ({ pool: b.pool ?? '', weight: b.weight, unresolved: b.unresolved })),
        requestTimeoutMs: rule.requestTimeoutMs,
      })),
    })),
    pools: (t.pools ?? []).map((p) => ({
      name: p.name,
      selector: p.selector,
      targetPorts: p.targetPorts,
      appProtocol: toEnum(protocols, p.appProtocol),
      failureMode: toEnum(failureModes, p.failureMode),
      profile: p.profile,
    })),
    models: (t.models ?? []).map((m) => ({
      name: m.name,
      pool: m.pool,
      criticality: toEnum(criticalities, m.criticality),
      priority: m.priority,
      targetModels: (m.targetModels ?? []).map((x) => ({ name: x.name, weight: x.weight })),
    })),
    objectives: (t.objectives ?? []).map((o) => ({ name: o.name, pool: o.pool, priority: o.priority })),
    rewrites: (t.rewrites ?? []).map((w) => ({
      name: w.name,
      pool: w.pool,
      rules: w.rules.map((r) => ({ models: r.models ?? [], targets: r.targets.map((x) => ({ model: x.model, weight: x.weight })) })),
    })),
    budgets: (t.budgets ?? []).map((b) => ({
      name: b.name,
      tenant: b.tenant,
      tokensPerMinute: int64(b.tokensPerMinute),
      maxConcurrentRequests: int64(b.maxConcurrentRequests),
      defaultMaxTokens: int64(b.defaultMaxTokens),
    })),
  });
}

/** Wire → plain input, to be validated with validateTable. */
export function tableFromWire(t: WireTable): RoutingTableInput {
  const input = {
    version: Number(t.version),
    routes: t.routes.map((r) => ({
      name: r.name,
      hostnames: [...r.hostnames],
      rules: r.rules.map((rule) => ({
        matches: rule.matches.length
          ? rule.matches.map((m) => ({
              path: m.path ? { type: fromEnum(pathTypes, m.path.type), value: m.path.value } : undefined,
              headers: m.headers.map((h) => ({ type: fromEnum(headerTypes, h.type), name: h.name, value: h.value })),
              queryParams: m.queryParams.map((h) => ({ type: fromEnum(headerTypes, h.type), name: h.name, value: h.value })),
              method: m.method,
            }))
          : undefined,
        backendRefs: rule.backendRefs.map((b) => ({ ...(b.pool || b.unresolved === undefined ? { pool: b.pool } : {}), weight: b.weight, ...(b.unresolved !== undefined ? { unresolved: b.unresolved } : {}) })),
        requestTimeoutMs: rule.requestTimeoutMs,
      })),
    })),
    pools: t.pools.map((p) => ({
      name: p.name,
      selector: { ...p.selector },
      targetPorts: [...p.targetPorts],
      appProtocol: fromEnum(protocols, p.appProtocol),
      failureMode: fromEnum(failureModes, p.failureMode),
      profile: p.profile,
    })),
    models: t.models.map((m) => ({
      name: m.name,
      pool: m.pool,
      criticality: fromEnum(criticalities, m.criticality),
      priority: m.priority,
      targetModels: m.targetModels.map((x) => ({ name: x.name, weight: x.weight })),
    })),
    objectives: t.objectives.map((o) => ({ name: o.name, pool: o.pool, priority: o.priority })),
    rewrites: t.rewrites.map((w) => ({
      name: w.name,
      pool: w.pool,
      rules: w.rules.map((r) => ({ models: [...r.models], targets: r.targets.map((x) => ({ model: x.model, weight: x.weight })) })),
    })),
    budgets: t.budgets.map((b) => ({
      name: b.name,
      tenant: b.tenant,
      tokensPerMinute: b.tokensPerMinute === undefined ? undefined : Number(b.tokensPerMinute),
      maxConcurrentRequests: b.maxConcurrentRequests === undefined ? undefined : Number(b.maxConcurrentRequests),
      defaultMaxTokens: b.defaultMaxTokens === undefined ? undefined : Number(b.defaultMaxTokens),
    })),
  };
  return stripUndefined(input) as RoutingTableInput;
}

/** valibot's optional() treats a present `undefined` like absence, but keep the objects clean for JSON and diffs. */
function stripUndefined(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(stripUndefined);
  if (value && typeof value === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) if (v !== undefined) out[k] = stripUndefined(v);
    return out;
  }
  return value;
}
