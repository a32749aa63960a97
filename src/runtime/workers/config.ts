/**
 * The Worker's configuration from its vars, read with the gateway's own flag
 * parser so the names and defaults are those of `infergate gateway`
 * (INFERGATE_SCRAPE_INTERVAL, INFERGATE_BODY_LIMIT, …), plus what only the
 * edge has: where the routing table comes from and where decisions are made.
 */
import { FlagError, parseFlags } from '../../config/flags.ts';
import { gatewayFlags } from '../../config/gateway-flags.ts';
import type { WorkerEnv } from './types.ts';

export interface EdgeConfig {
  agentUrl: string | undefined;
  controlPlaneUrl: string | undefined;
  token: string | undefined;
  /** `durable-object`: the pool's object decides; `isolate`: each isolate decides alone. */
  edgeState: 'durable-object' | 'isolate';
  scrapeIntervalMs: number;
  staleAfterMs: number;
  bodyLimit: number;
  upstreamTimeoutMs: number;
  maxAttempts: number;
  /** How long a routing table fetched from the control plane is used before asking again. */
  tableTtlMs: number;
  /** The header trusted to name the tenant (INFERGATE_TENANT_HEADER), for token budgets and fairness. */
  tenantHeader: string | undefined;
  /** Whether `x-infergate-explain: 1` gets the decision back (INFERGATE_EXPLAIN, default true). */
  explainHeader: boolean;
  /** Precise prefix routing (INFERGATE_KV_EVENTS): the pool's object keeps a copy of the agent's KV index. */
  kvEvents: boolean;
  /** EndpointPickerConfig YAML text (INFERGATE_SCHEDULING_CONFIG: the text itself, a Worker has no files). */
  schedulingConfig: string | undefined;
}

export function edgeConfig(env: WorkerEnv): EdgeConfig {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') vars[k] = String(v);
  const flags = parseFlags([], gatewayFlags, vars);
  const edgeState = vars.INFERGATE_EDGE_STATE ?? 'durable-object';
  if (edgeState !== 'durable-object' && edgeState !== 'isolate') throw new FlagError(`INFERGATE_EDGE_STATE must be durable-object or isolate, got "${edgeState}"`);
  const ttl = Number(vars.INFERGATE_TABLE_TTL ?? 10_000);
  return {
    agentUrl: flags.agent || undefined,
    controlPlaneUrl: vars.INFERGATE_CONTROL_PLANE || undefined,
    token: flags.token || undefined,
    edgeState,
    scrapeIntervalMs: flags['scrape-interval'],
    staleAfterMs: flags['stale-after'],
    bodyLimit: flags['body-limit'],
    upstreamTimeoutMs: flags['upstream-timeout'],
    maxAttempts: flags['max-attempts'],
    tableTtlMs: Number.isFinite(ttl) && ttl >= 0 ? ttl : 10_000,
    tenantHeader: flags['tenant-header']?.toLowerCase() || undefined,
    explainHeader: flags.explain,
    kvEvents: flags['kv-events'],
    schedulingConfig: flags['scheduling-config'] || undefined,
  };
}
