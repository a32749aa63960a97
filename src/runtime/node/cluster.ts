/**
 * `infergate gateway --workers N` on Node: the data plane runs in N worker
 * processes (node:cluster) sharing one port, so the gateway's CPU scales past
 * one core. This process, the primary, keeps the control plane — the routing
 * table and the admin API, the embedded agent (scraping once for every
 * worker) — and serves the workers an internal API on loopback behind a
 * per-run token: they follow its routing table and its endpoint snapshots.
 * It forks the workers (./cluster-worker.ts), replaces one
 * that dies, and merges their metrics for the admin port's /metrics.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { parsePrometheusText } from '../../agent/prom-text.ts';
import type { StartGatewayOptions } from './gateway.ts';
import { assembleControlPlane, type ControlPlane } from '../../gateway/control-plane.ts';
import { mergePrometheusText, withoutGauges } from '../../gateway/metrics-merge.ts';
import type { DashboardBatch, DashboardWatch } from '../../gateway/dashboard-relay.ts';
import { buildInfo } from './build-info.ts';
import { processMetrics } from './process-metrics.ts';
import type { RoutingTableStore } from '../../routing/store.ts';
import { nodeFiles } from './files.ts';
import { listen, type Listening } from './listen.ts';
import { scrapeGetter } from './metrics-getter.ts';
import { cpuCount } from './process.ts';
import { httpOrigin } from '../../endpoints/address.ts';

export interface ClusterGatewayOptions extends StartGatewayOptions {
  /** Worker processes serving the data plane (2 or more). */
  workers: number;
  /** How long a replacement worker waits for the primary's first table before it listens (default 3000 ms). */
  tableWaitMs?: number;
}

export interface RunningClusterGateway {
  url: string;
  port: number;
  adminUrl?: string;
  store: RoutingTableStore;
  workers: number;
  close(): Promise<void>;
}

/** What a worker is started with (environment variable WORKER_CONFIG_ENV, JSON). */
export interface WorkerConfig {
  slot: number;
  options: Pick<
    StartGatewayOptions,
    'port' | 'host' | 'bodyLimit' | 'upstreamTimeoutMs' | 'upstreamConnectTimeoutMs' | 'maxAttempts' | 'schedulingConfig' | 'staleAfterMs' | 'agent' | 'agentToken' | 'tableFrom' | 'apiKeys' | 'upstreamCredentials' | 'dataPlaneLimits' | 'flowControl' | 'accessLog' | 'accessLogSample' | 'accessLogMaxRate' | 'tenantHeader' | 'explainHeader' | 'budgetStore' | 'budgetFailureMode' | 'kvEvents'
  >;
}

export const WORKER_CONFIG_ENV = 'INFERGATE_WORKER_CONFIG';

/** Worker → primary over the cluster IPC channel. */
export type WorkerMessage =
  | { type: 'infergate:ready'; port: number }
  | { type: 'infergate:failed'; error: string; fatal: boolean }
  | { type: 'infergate:metrics'; id: number; text: string }
  | { type: 'infergate:dashboard'; batch: DashboardBatch };
/** Primary → worker. */
export type PrimaryMessage = { type: 'infergate:metrics'; id: number } | { type: 'infergate:dashboard-watch'; watch: DashboardWatch };

/** The workers could not be started; the message says why (the first worker's error). */
export class WorkerStartError extends Error {}

/** Startup gives up after this many worker failures (a failure the worker calls fatal gives up at once). */
const STARTUP_ATTEMPTS = 3;
/** A worker that neither listens nor exits (the sources are transpiled at its first start: seconds on a busy machine). */
const STARTUP_TIMEOUT_MS = 60_000;
const RESTART_BACKOFF_MS = { initial: 100, max: 5000, resetAfter: 10_000 };
const METRICS_TIMEOUT_MS = 1000;

interface Slot {
  index: number;
  worker?: Worker;
  ready: boolean;
  startedAt: number;
  /** Failures in a row (reset once a worker has lived RESTART_BACKOFF_MS.resetAfter). */
  failures: number;
  failed?: { error: string; fatal: boolean };
  timer?: ReturnType<typeof setTimeout>;
  /** The worker's last metrics page: stands in while it does not answer, and is kept when it exits. */
  lastPage?: string;
}

export async function startClusterGateway(options: ClusterGatewayOptions): Promise<RunningClusterGateway> {
  const log = options.log ?? ((line) => console.error(JSON.stringify(line)));
  const internalToken = randomBytes(32).toString('base64url');
  const slots: Slot[] = Array.from({ length: options.workers }, (_, index) => ({ index, ready: false, startedAt: 0, failures: 0 }));
  const pendingMetrics = new Map<number, (text: string | undefined) => void>();
  let metricsId = 0;
  let restarts = 0;
  let stopping = false;
  /** The last metrics of workers that exited, summed. */
  let retired = '';

  const askMetrics = (worker: Worker): Promise<string | undefined> =>
    new Promise((resolve) => {
      const id = ++metricsId;
      const timer = setTimeout(() => done(undefined), METRICS_TIMEOUT_MS);
      const done = (text: string | undefined) => {
        clearTimeout(timer);
        pendingMetrics.delete(id);
        resolve(text);
      };
      pendingMetrics.set(id, done);
      if (!worker.isConnected()) return done(undefined);
      worker.send({ type: 'infergate:metrics', id } satisfies PrimaryMessage, (err) => err && done(undefined));
    });

  /** The workers' gateway metrics summed, plus how requests spread over the workers and how often one was replaced. */
  const metrics = async (): Promise<string> => {
    const live = slots.filter((s) => s.worker && s.ready);
    const pages = await Promise.all(live.map(async (s) => (s.lastPage = (await askMetrics(s.worker!)) ?? s.lastPage)));
    const lines = [
      '# HELP infergate_worker_requests_total Requests answered by each data-plane worker process (--workers), by slot and pid: shows how evenly connections spread.',
      '# TYPE infergate_worker_requests_total counter',
    ];
    live.forEach((s, i) => {
      const page = pages[i];
      if (page === undefined) return;
      const total = parsePrometheusText(page, new Set(['infergate_requests_total'])).reduce((sum, x) => sum + x.value, 0);
      lines.push(`infergate_worker_requests_total{worker="${s.index}",pid="${s.worker!.process.pid}"} ${total}`);
    });
    lines.push('# HELP infergate_worker_restarts_total Data-plane worker processes replaced after they exited.', '# TYPE infergate_worker_restarts_total counter', `infergate_worker_restarts_total ${restarts}`);
    // Replaced workers' counts stay in the sums (`retired`), so a summed counter never goes down.
    return mergePrometheusText([retired, ...pages.filter((p): p is string => p !== undefined)]) + lines.join('\n') + '\n';
  };

  const getter = options.endpoints && !options.agent ? scrapeGetter() : undefined;
  let control: ControlPlane | undefined;
  const servers: Listening[] = [];

  const stopWorkers = async () => {
    stopping = true;
    for (const s of slots) clearTimeout(s.timer);
    await Promise.all(slots.map((s) => s.worker && stopWorker(s.worker, options.dataPlaneLimits?.drainTimeoutMs ?? 0)));
  };
  const closeAll = async () => {
    await stopWorkers();
    await Promise.all(servers.map((s) => s.close()));
    await control?.close();
    await getter?.close();
  };

  try {
    const tell = (worker: Worker | undefined, message: PrimaryMessage) => worker?.isConnected() && worker.send(message, (err) => err && undefined);
    const broadcastWatch = (watch: DashboardWatch) => {
      for (const s of slots) if (s.ready) tell(s.worker, { type: 'infergate:dashboard-watch', watch });
    };
    const kvEventsTransport = async () => (await import('./zmq-subscriber.ts')).zmqTransport;
    control = await assembleControlPlane(
      { buildInfo: buildInfo(), ...options, internalToken, metrics, log, broadcastWatch, workers: options.workers },
      { files: nodeFiles, getter, processMetrics: processMetrics(), kvEventsTransport },
    );
    if (!options.budgetStore) {
      // Without a shared store each worker holds the tenant to the whole budget: say so once a table has budgets.
      let warned = false;
      const warn = () => {
        if (warned || !control!.store.current?.budgets.size) return;
        warned = true;
        log({ level: 'warn', msg: `token budgets are kept by each of the ${options.workers} workers separately: a tenant may use up to ${options.workers}x its TokenBudget. Give --budget-store redis://… to share them` });
      };
      warn();
      control.store.subscribe(warn);
    }
    const internal = await listen(control.internal.app.fetch, 0, '127.0.0.1');
    servers.push(internal);
    const internalUrl = `http://127.0.0.1:${internal.port}`;
    const workerOptions = (): WorkerConfig['options'] => ({
      port: options.port ?? 8080,
      host: options.host ?? '127.0.0.1',
      bodyLimit: options.bodyLimit,
      upstreamTimeoutMs: options.upstreamTimeoutMs,
      upstreamConnectTimeoutMs: options.upstreamConnectTimeoutMs,
      maxAttempts: options.maxAttempts,
      schedulingConfig: options.schedulingConfig,
      // Each worker checks keys, bounds its connections and queues its own requests, as a replica does.
      apiKeys: options.apiKeys,
      upstreamCredentials: options.upstreamCredentials,
      dataPlaneLimits: options.dataPlaneLimits,
      flowControl: options.flowControl,
      // Budgets are shared by the workers only through a store; without one each worker keeps its own (warned below).
      tenantHeader: options.tenantHeader,
      explainHeader: options.explainHeader,
      budgetStore: options.budgetStore,
      budgetFailureMode: options.budgetFailureMode,
      staleAfterMs: options.staleAfterMs,
      // Precise routing: each worker keeps a copy of the index (the primary's, or the remote agent's).
      kvEvents: options.kvEvents,
      // Each worker writes its own lines (whole-line writes: they never interleave within a line).
      accessLog: options.accessLog,
      accessLogSample: options.accessLogSample,
      accessLogMaxRate: options.accessLogMaxRate,
      ...(control!.internal.endpoints ? { agent: internalUrl, agentToken: internalToken } : { agent: options.agent, agentToken: options.agentToken }),
      // Wait for the table only when there is one to wait for: else the worker answers 503 until `infergate apply`.
      tableFrom: { url: internalUrl, token: internalToken, waitMs: control!.store.current ? (options.tableWaitMs ?? 3000) : 0 },
    });

    // The admin port first: a port in use fails before any worker is forked.
    const admin = control.admin && (await listen(control.admin.app.fetch, options.adminPort!, control.admin.host));
    if (admin) servers.push(admin);

    cluster.setupPrimary({ exec: fileURLToPath(new URL('./cluster-worker.ts', import.meta.url)), execArgv: workerExecArgv(options.workers, cpuCount()), args: [] });
    const port = await new Promise<number>((resolve, reject) => {
      let startupFailures = 0;
      let started = false;
      const startupTimer = setTimeout(() => {
        stopping = true;
        reject(new WorkerStartError(`the data-plane workers did not all listen within ${STARTUP_TIMEOUT_MS / 1000} s (${slots.filter((s) => s.ready).length} of ${slots.length} did)`));
      }, STARTUP_TIMEOUT_MS);
      const fork = (slot: Slot) => {
        const config: WorkerConfig = { slot: slot.index, options: workerOptions() };
        const worker = cluster.fork({ [WORKER_CONFIG_ENV]: JSON.stringify(config) });
        Object.assign(slot, { worker, ready: false, startedAt: Date.now(), failed: undefined });
        worker.on('message', (msg: WorkerMessage) => {
          if (msg?.type === 'infergate:metrics') pendingMetrics.get(msg.id)?.(msg.text);
          else if (msg?.type === 'infergate:dashboard') control?.dashboardBatch(msg.batch);
          else if (msg?.type === 'infergate:failed') slot.failed = { error: msg.error, fatal: msg.fatal };
          else if (msg?.type === 'infergate:ready') {
            slot.ready = true;
            // A worker that starts while a page is open relays at once.
            if (control?.dashboardWatch().watching) tell(worker, { type: 'infergate:dashboard-watch', watch: control.dashboardWatch() });
            if (!started && slots.every((s) => s.ready)) {
              started = true;
              clearTimeout(startupTimer);
              resolve(msg.port);
            }
          }
        });
        worker.on('exit', (code, signal) => {
          if (slot.worker !== worker) return;
          slot.worker = undefined;
          // Its counts stay in the sums (counters never go down); its gauges (requests it was running) go with it.
          if (slot.lastPage) retired = mergePrometheusText([retired, withoutGauges(slot.lastPage)]);
          slot.lastPage = undefined;
          const wasReady = slot.ready;
          slot.ready = false;
          if (stopping) return;
          const failed = slot.failed;
          if (!started && !wasReady) {
            startupFailures++;
            if (failed?.fatal || startupFailures >= STARTUP_ATTEMPTS) {
              const why = failed?.error ?? `worker ${slot.index} exited (${signal ?? `code ${code}`}) before it listened`;
              stopping = true;
              clearTimeout(startupTimer);
              reject(new WorkerStartError(`the data-plane workers could not start: ${why}`));
              return;
            }
          }
          if (Date.now() - slot.startedAt > RESTART_BACKOFF_MS.resetAfter) slot.failures = 0;
          const delay = Math.min(RESTART_BACKOFF_MS.max, RESTART_BACKOFF_MS.initial * 2 ** slot.failures++);
          const report = () => log({ level: 'warn', msg: 'gateway worker exited; replacing it', worker: slot.index, pid: worker.process.pid, code, signal, error: failed?.error, restartInMs: delay });
          // A clean exit is a worker that got SIGTERM/SIGINT, most often with the whole process group (Ctrl-C):
          // the primary's own signal is on its way, so say nothing unless the primary is still running when the timer fires.
          if (code !== 0) report();
          slot.timer = setTimeout(() => {
            if (stopping) return;
            if (code === 0) report();
            if (started) restarts++;
            fork(slot);
          }, delay);
        });
      };
      for (const slot of slots) fork(slot);
    });

    const host = options.host ?? '127.0.0.1';
    return {
      url: httpOrigin(host, port),
      port,
      adminUrl: admin ? `http://${admin.host}:${admin.port}` : undefined,
      store: control.store,
      workers: options.workers,
      close: closeAll,
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}

/** SIGTERM (the worker drains its listener for up to `drainMs`, closes its connections, then exits); SIGKILL if it has not exited 5 s after that. */
function stopWorker(worker: Worker, drainMs: number): Promise<void> {
  if (worker.isDead()) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => worker.process.kill('SIGKILL'), drainMs + 5000);
    worker.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    worker.process.kill('SIGTERM');
  });
}

/**
 * The workers' Node flags: the TypeScript loader (./typescript.mjs), as bin/infergate.js uses in this process,
 * and, when there is a worker for every core, `--single-threaded-gc`: V8's garbage collector otherwise runs
 * helper threads (concurrent marking and sweeping, parallel scavenges) that, with every core already running
 * a worker, only take turns from the other workers. Paired on 2 cores (docs/benchmarks.md), `--workers 2`
 * spent 5–10% less CPU a request with it. A flag of the user's naming the GC's threads (here or in NODE_OPTIONS) is left as given.
 */
export function workerExecArgv(workers: number, cores: number, execArgv: readonly string[] = process.execArgv, nodeOptions = process.env.NODE_OPTIONS ?? ''): string[] {
  const loader = new URL('./typescript.mjs', import.meta.url).href;
  const out = execArgv.includes(loader) ? [...execArgv] : [...execArgv, '--import', loader];
  // V8 reads `--no-x`, `--nox` and `_` for `-`; any parallel or concurrent flag counts (a compiler one too: kept as given).
  const gcThreads = /^--(no-?)?(single[-_]threaded([-_]gc)?|parallel[-_]\w|concurrent[-_]\w|v8[-_]pool[-_]size)/;
  const given = [...out, ...nodeOptions.split(/\s+/)].some((flag) => gcThreads.test(flag));
  if (workers >= cores && !given) out.push('--single-threaded-gc');
  return out;
}
