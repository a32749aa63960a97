/**
 * The Worker's configuration from its vars, read with the gateway's own flag
 * parser so the names and defaults are those of `infergate gateway`
 * (INFERGATE_SCRAPE_INTERVAL, INFERGATE_BODY_LIMIT, …), plus what only the
 * edge has: where the routing table comes from and where decisions are made.
 */
import { envName, FlagError, parseFlags } from '../../config/flags.ts';
import { budgetFailureMode, gatewayFlags } from '../../config/gateway-flags.ts';
import { parseSchedulerConfig, type EndpointPickerConfig } from '../../scheduling/index.ts';
import type { WorkerEnv } from './types.ts';

export interface EdgeConfig {
  agentUrl: string | undefined;
  /** The agent's bearer token (its --token), sent on EndpointService and KvIndexService calls. */
  agentToken: string | undefined;
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
  /** The validated EndpointPickerConfig of INFERGATE_SCHEDULING_CONFIG (the YAML text itself: a Worker has no files). */
  schedulingConfig: EndpointPickerConfig | undefined;
  /** When the budgets' Durable Object cannot be reached (INFERGATE_BUDGET_FAILURE_MODE). */
  budgetFailureMode: 'FailOpen' | 'FailClose';
  /** The access log (INFERGATE_ACCESS_LOG): `stdout` writes lines with console.log (Workers Logs); off unless set. */
  accessLog: { sample: number; maxPerSecond: number | undefined } | undefined;
}

/** The gateway flags the Worker reads; any other one set in its vars is refused rather than ignored. */
const SUPPORTED = new Set(['agent', 'agent-token', 'token', 'scheduling-config', 'tenant-header', 'budget-failure-mode', 'scrape-interval', 'stale-after', 'body-limit', 'upstream-timeout', 'max-attempts', 'kv-events', 'explain', 'access-log', 'access-log-sample', 'access-log-max-rate', 'manifests']);

/** Why a flag cannot be honoured here, where ignoring it silently would be unsafe or misleading. */
const UNSUPPORTED: Record<string, string> = {
  'api-keys': 'the Worker does not check API keys, so clients would not be authenticated. Authenticate in front of the Worker (Cloudflare Access, an API gateway) and name the tenant with INFERGATE_TENANT_HEADER',
  'upstream-credentials': "the Worker does not rewrite Authorization, so the pods would receive the client's header as sent. Set the pods' credentials where the pods are reached (e.g. the tunnel or proxy in front of them)",
  'upstream-connect-timeout': "fetch() has no connect timeout; INFERGATE_UPSTREAM_TIMEOUT bounds the wait for the answer's head",
  'budget-store': 'token budgets are kept in the BUDGETS Durable Object, shared by every isolate',
};

export function edgeConfig(env: WorkerEnv): EdgeConfig {
  const vars: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) if (typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean') vars[k] = String(v);
  for (const flag of Object.keys(gatewayFlags)) {
    if (SUPPORTED.has(flag) || vars[envName(flag)] === undefined) continue;
    const why = UNSUPPORTED[flag] ?? 'it configures what only a Node or Deno gateway has (a server, files, the admin API, Kubernetes)';
    throw new FlagError(`${envName(flag)} is not supported on Workers: ${why}. Remove it from the Worker's vars`);
  }
  return edgeConfigOf(vars);
}

function edgeConfigOf(vars: Record<string, string>): EdgeConfig {

  const flags = parseFlags([], gatewayFlags, vars);
  const edgeState = vars.INFERGATE_EDGE_STATE ?? 'durable-object';
  if (edgeState !== 'durable-object' && edgeState !== 'isolate') throw new FlagError(`INFERGATE_EDGE_STATE must be durable-object or isolate, got "${edgeState}"`);
  const ttl = Number(vars.INFERGATE_TABLE_TTL ?? 10_000);
  return {
    agentUrl: flags.agent || undefined,
    agentToken: flags['agent-token'] || undefined,
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
    schedulingConfig: schedulingConfig(flags['scheduling-config'] || undefined),
    budgetFailureMode: budgetFailureMode(flags['budget-failure-mode']),
    accessLog: accessLog(vars.INFERGATE_ACCESS_LOG, flags['access-log-sample'], flags['access-log-max-rate']),
  };
}

function schedulingConfig(yaml: string | undefined): EndpointPickerConfig | undefined {
  if (!yaml) return undefined;
  const parsed = parseSchedulerConfig(yaml);
  if (!parsed.ok) throw new FlagError(`INFERGATE_SCHEDULING_CONFIG was rejected: ${parsed.problems.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
  // Admission needs one queue per pool that sees every request and wakes them as others end; the isolates have none.
  if (parsed.config.featureGates.flowControl) {
    throw new FlagError(
      'INFERGATE_SCHEDULING_CONFIG turns on flow control (featureGates: [flowControl]), which Workers does not run: requests would not be queued or shed by it. ' +
        'Remove the gate, and use TokenBudget objects (maxConcurrentRequests, tokensPerMinute) to bound load at the edge, or run flow control on a Node or Deno gateway',
    );
  }
  return parsed.config;
}

/** Off unless INFERGATE_ACCESS_LOG is set (a Worker pays per log line); a file cannot be written. */
function accessLog(target: string | undefined, sample: number, maxPerSecond: number): EdgeConfig['accessLog'] {
  if (target === undefined || target === 'off') return undefined;
  if (target !== 'stdout') throw new FlagError(`INFERGATE_ACCESS_LOG must be off or stdout on Workers (lines go to console.log, i.e. Workers Logs), got "${target}": a Worker has no files`);
  if (!(sample >= 0 && sample <= 1)) throw new FlagError(`INFERGATE_ACCESS_LOG_SAMPLE must be between 0 and 1, got ${sample}`);
  return { sample, maxPerSecond: maxPerSecond > 0 ? maxPerSecond : undefined };
}
