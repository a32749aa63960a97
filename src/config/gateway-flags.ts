/**
 * The gateway's flags (and INFERGATE_* environment variables), shared by every
 * runtime's entry: `infergate gateway` on Node, src/runtime/deno/main.ts on Deno.
 */
import { FlagError, PORT, TIMER_MS, type FlagSpec, type FlagValues } from './flags.ts';

export const gatewayFlags = {
  manifests: { type: 'string', help: 'Kubernetes manifests (Gateway, HTTPRoute, InferencePool, InferenceModel, InferenceObjective) to load at start' },
  endpoints: { type: 'string', help: 'endpoints file: model-server pods and their labels (scraped by an embedded agent)' },
  agent: { type: 'string', help: 'URL of a remote infergate agent, instead of the embedded one' },
  'agent-token': { type: 'string', help: "bearer token the remote agent requires (the agent's --token)" },
  'scheduling-config': { type: 'string', help: 'EndpointPickerConfig YAML: plugins and scheduling profiles' },
  'admin-port': { type: 'number', integer: true, min: -1, max: 65535, default: 8081, help: 'admin API port (RoutingService); -1 disables it' },
  'api-keys': { type: 'string', help: 'file of clients\' API keys (SHA-256 digests, each with a tenant; `infergate key` makes one): the data plane then requires Authorization: Bearer KEY' },
  'upstream-credentials': { type: 'string', help: 'file saying what each pool\'s model servers receive in Authorization: pass, strip or replace with the pool\'s key (default: strip with --api-keys, else pass)' },
  'tenant-header': { type: 'string', help: 'a request header trusted to name the tenant (token budgets, flow-control fairness), set by an authenticating proxy in front; it wins over the API key\'s tenant' },
  'budget-store': { type: 'string', help: 'redis://HOST:PORT (Redis or Valkey) where token budgets are shared by the gateway replicas (Node); default: kept in this process' },
  'budget-failure-mode': { type: 'string', default: 'FailOpen', help: 'when the budget store cannot be reached: FailOpen (let requests through uncounted, as Envoy\'s rate limiter does) or FailClose (503)' },
  token: { type: 'string', help: 'bearer token for the admin API (without one the admin API listens on loopback only)' },
  'token-file': { type: 'string', help: 'file holding the admin bearer token' },
  'state-dir': { type: 'string', help: 'directory where the accepted routing table is kept across restarts' },
  'scrape-interval': { type: 'number', min: 1, default: 50, help: 'ms between scrapes of each endpoint (embedded agent)' },
  'engine-mismatch': { type: 'string', default: 'not-ready', help: 'a pod whose /metrics are another engine\'s than its endpoint says: not-ready (out of the candidates) or ready (only reported as its last error)' },
  'stale-after': { type: 'number', ...TIMER_MS, default: 2000, help: 'ms after which endpoint metrics are stale' },
  port: { type: 'number', ...PORT, default: 8080, help: 'data-plane port' },
  host: { type: 'string', default: '127.0.0.1', help: 'address to listen on (0.0.0.0 in a container)' },
  'body-limit': { type: 'number', integer: true, min: 1, default: 8 * 1024 * 1024, help: 'largest request body, bytes' },
  'upstream-timeout': { type: 'number', ...TIMER_MS, default: 300_000, help: 'ms to wait for a model server to start answering' },
  'upstream-connect-timeout': { type: 'number', ...TIMER_MS, default: 5_000, help: "ms to open a connection to a model server (Envoy's connect_timeout); then the next endpoint is tried" },
  'max-attempts': { type: 'number', integer: true, min: 1, default: 3, help: 'endpoints tried per request (the first included) when one refuses or answers 429/5xx before the first byte' },
  'max-connections': { type: 'number', integer: true, min: 1, default: 10_000, help: 'client connections open at once on the data plane (Node, Deno); more are refused' },
  'max-connections-per-client': { type: 'number', integer: true, min: 1, default: 1000, help: 'client connections open at once from one address (Node, Deno)' },
  'headers-timeout': { type: 'number', ...TIMER_MS, default: 60_000, help: 'ms for a request head to arrive (then 408)' },
  'request-timeout': { type: 'number', ...TIMER_MS, default: 300_000, help: 'ms for a whole request, head and body, to arrive (then 408)' },
  'send-timeout': { type: 'number', ...TIMER_MS, default: 60_000, help: "ms a client that does not read its answer may hold it (between two writes that complete; nginx's send_timeout); then the connection is closed" },
  'drain-timeout': { type: 'number', min: 0, max: 2 ** 31 - 1, default: 110_000, help: 'on SIGTERM/SIGINT, ms the data plane lets requests under way finish (idle connections close at once; new ones are refused)' },
  'kv-events': { type: 'boolean', default: false, help: "precise prefix routing: subscribe to the pods' KV events (embedded agent) or follow the agent's index (--agent); for profiles with precise-prefix-cache plugins" },
  'kv-events-port': { type: 'number', ...PORT, min: 1, default: 5557, help: "pods' KV-event PUB port when their entry names no kvEventsEndpoint (embedded agent)" },
  'kv-events-replay-port': { type: 'number', ...PORT, default: 0, help: "pods' replay port when their entry names none (0: no replay; embedded agent)" },
  'kv-events-topic': { type: 'string', default: '', help: 'ZMQ topic prefix to subscribe to (embedded agent)' },
  tokenizer: { type: 'string', help: "with --kv-events: a tokenizer.json to compute token ids with in the gateway (tokenizer_config.json beside it: the chat template) instead of the pods' /tokenize" },
  'tokenizer-base-models': { type: 'string', help: 'with --tokenizer: the base model names, comma-separated (any other target model is a LoRA adapter)' },
  kubernetes: { type: 'boolean', help: 'take the routing table and the pools\' pods from the Kubernetes API (in-cluster service account, or KUBECONFIG); status written back by the elected replica' },
  namespace: { type: 'string', help: 'with --kubernetes: watch this namespace only (default: all namespaces)' },
  'gateway-class': { type: 'string', help: 'with --kubernetes: serve the HTTPRoutes attached to Gateways of this class (default: every HTTPRoute to an InferencePool)' },
  'lease-name': { type: 'string', default: 'infergate-gateway', help: 'with --kubernetes: the coordination.k8s.io Lease the replicas elect a status writer with' },
  'lease-namespace': { type: 'string', help: "with --kubernetes: the Lease's namespace (default: the pod's own, from its service account; not --namespace)" },
  workers: { type: 'string', default: '1', help: 'processes serving the data plane on the one port (Node only; "auto": one per CPU)' },
  'access-log': { type: 'string', default: 'stdout', help: 'one JSON line per request: off, stdout, or a file to append to' },
  'access-log-sample': { type: 'number', default: 1, help: 'share of successful requests logged, 0..1 (failed ones always are)' },
  'access-log-max-rate': { type: 'number', min: 0, default: 0, help: 'at most this many access-log lines a second (0: no cap); the next line says how many were skipped' },
  explain: { type: 'boolean', default: true, help: 'answer a request with x-infergate-explain: 1 with its decision (the candidates\' addresses and scores) in x-infergate-decision; --explain=false where clients should not see the pods' },
  dashboard: { type: 'boolean', default: true, help: 'serve the live dashboard at /dashboard/ on the admin port (--dashboard=false to turn it off)' },
  help: { type: 'boolean', help: 'show this help' },
} satisfies FlagSpec;

type GatewayFlagValues = FlagValues<typeof gatewayFlags>;

/** The bearer token: `--token`, else the contents of `--token-file`; an error message when that file is missing. */
export async function adminToken(
  flags: GatewayFlagValues,
  readFileText: (path: string) => Promise<string | undefined>,
): Promise<{ token?: string } | { error: string }> {
  if (flags.token || !flags['token-file']) return { token: flags.token || undefined };
  const text = await readFileText(flags['token-file']);
  if (text === undefined) return { error: `--token-file ${flags['token-file']} does not exist` };
  // An empty file is not "no token": the admin API would be served to anyone, silently.
  if (text.trim() === '') return { error: `--token-file ${flags['token-file']} is empty: put the admin token in it, or drop --token-file to serve the admin API without one (on loopback only)` };
  return { token: text.trim() };
}

/** `--workers`: a whole number of at least 1, or "auto" (one per CPU: `cpus`). */
export function workerCount(value: string, cpus: number): number {
  if (value.trim() === 'auto') return Math.max(1, cpus);
  const n = Number(value);
  if (value.trim() === '' || !Number.isInteger(n) || n < 1) throw new FlagError(`--workers must be a whole number of at least 1, or "auto", got "${value}"`);
  return n;
}

/** `--engine-mismatch`: not-ready or ready. */
export function engineMismatch(value: string): 'not-ready' | 'ready' {
  if (value === 'not-ready' || value === 'ready') return value;
  throw new FlagError(`--engine-mismatch must be not-ready or ready, got "${value}"`);
}

/** `--budget-failure-mode`: FailOpen or FailClose. */
export function budgetFailureMode(value: string): 'FailOpen' | 'FailClose' {
  if (value === 'FailOpen' || value === 'FailClose') return value;
  throw new FlagError(`--budget-failure-mode must be FailOpen or FailClose, got "${value}"`);
}

/** `--budget-store`: a redis:// or rediss:// URL. */
export function budgetStoreUrl(value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^rediss?:\/\/[^\s]+$/.test(value)) throw new FlagError(`--budget-store must be a redis:// or rediss:// URL (Redis or Valkey), got "${value}"`);
  return value;
}

/** The start options every runtime's gateway takes, from the flags. */
export function gatewayOptions(flags: GatewayFlagValues, token: string | undefined) {
  return {
    manifests: flags.manifests,
    endpoints: flags.endpoints,
    agent: flags.agent,
    agentToken: flags['agent-token'] || undefined,
    schedulingConfig: flags['scheduling-config'],
    adminPort: flags['admin-port'] >= 0 ? flags['admin-port'] : undefined,
    token,
    stateDir: flags['state-dir'],
    scrapeIntervalMs: flags['scrape-interval'],
    engineMismatch: engineMismatch(flags['engine-mismatch']),
    apiKeys: flags['api-keys'],
    tenantHeader: flags['tenant-header']?.toLowerCase() || undefined,
    explainHeader: flags.explain,
    budgetStore: budgetStoreUrl(flags['budget-store']),
    budgetFailureMode: budgetFailureMode(flags['budget-failure-mode']),
    upstreamCredentials: flags['upstream-credentials'],
    staleAfterMs: flags['stale-after'],
    port: flags.port,
    host: flags.host,
    bodyLimit: flags['body-limit'],
    upstreamTimeoutMs: flags['upstream-timeout'],
    upstreamConnectTimeoutMs: flags['upstream-connect-timeout'],
    maxAttempts: flags['max-attempts'],
    kvEvents: flags['kv-events'],
    kvEventsPort: flags['kv-events-port'],
    kvEventsReplayPort: flags['kv-events-replay-port'],
    kvEventsTopic: flags['kv-events-topic'],
    tokenizer: flags.tokenizer || undefined,
    tokenizerBaseModels: flags['tokenizer-base-models'] ? flags['tokenizer-base-models'].split(',').map((s) => s.trim()).filter(Boolean) : undefined,
    dataPlaneLimits: {
      maxConnections: flags['max-connections'],
      maxConnectionsPerClient: flags['max-connections-per-client'],
      headersTimeoutMs: flags['headers-timeout'],
      requestTimeoutMs: flags['request-timeout'],
      sendTimeoutMs: flags['send-timeout'],
      drainTimeoutMs: flags['drain-timeout'],
    },
    accessLog: flags['access-log'],
    accessLogSample: flags['access-log-sample'],
    accessLogMaxRate: flags['access-log-max-rate'],
    dashboard: flags.dashboard,
  };
}
