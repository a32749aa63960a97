/**
 * End-to-end mode: real processes over loopback — this process generates
 * load, a child runs the gateway (with its embedded agent scraping every
 * 50 ms of engine time), another child runs the simulated pods. Time is
 * scaled (`timeScale` wall ms per engine ms) so the 2-core machine is not the
 * bottleneck; the report says how busy each process was and how late the
 * simulator's steps ran. Capacity and workloads are the simulated-time
 * mode's, so the two modes can be compared strategy by strategy.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { loadKernelModule } from '../../src/runtime/node/index.ts';
import { measureCapacity } from './capacity.ts';
import { runSimulated } from './sim-loop.ts';
import type { Criticality } from '../../src/routing/schema.ts';
import { driveLoad, loadMetrics, objectiveName } from './e2e-load.ts';
import { CAPACITY_METHOD, describeRun, offeredRate, type LevelResult, type WorkloadResult } from './run.ts';
import type { Strategy } from './strategies/index.ts';
import type { PoolSpec, RunMetrics, Workload, WorkloadParams } from './types.ts';
import { workloadByName } from './workloads/index.ts';

export interface E2EOptions {
  seed: number;
  quick: boolean;
  strategies: Strategy[];
  levels?: number[];
  pods?: number;
  timeScale?: number;
  /** Processes a pool's pods run in (default 1): a pool too busy for one process's event loop is split across several. */
  podProcesses?: number;
  /** Seconds of arrivals (default 30, quick 20). */
  durationMs?: number;
  progress?: (line: string) => void;
}

const CHILD = fileURLToPath(new URL('./e2e-child.ts', import.meta.url));
const BASE_PORT = 18_000;

function startChild(config: object): Promise<{ child: ChildProcess; ready: unknown }> {
  const child = spawn(process.execPath, ['--import', 'tsx', CHILD, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'inherit'] });
  return new Promise((resolve, reject) => {
    const lines = createInterface({ input: child.stdout! });
    lines.once('line', (line) => resolve({ child, ready: (JSON.parse(line) as { ready: unknown }).ready }));
    child.once('exit', (code) => reject(new Error(`child exited (${code}) before it was ready: ${JSON.stringify(config).slice(0, 200)}`)));
  });
}

function stop(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null) return resolve();
    child.once('exit', () => resolve());
    child.kill('SIGTERM');
  });
}

/** CPU seconds (user + system) of a process so far, from /proc. */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Priorities of the objectives every pool gets, one per criticality (the load generator names them per request). */
const OBJECTIVE_PRIORITY: Record<Criticality, number> = { Critical: 1, Standard: 0, Sheddable: -1 };

function manifests(pools: PoolSpec[], models: string[][]): string {
  const docs: string[] = [
    `apiVersion: gateway.networking.k8s.io/v1\nkind: HTTPRoute\nmetadata: { name: bench }\nspec:\n  rules:\n` +
      pools.map((p) => `  - matches:\n    - headers: [{ type: Exact, name: X-Gateway-Model-Name, value: "${p.model}" }]\n    backendRefs: [{ name: ${p.name}, kind: InferencePool }]`).join('\n') +
      `\n  - backendRefs: [{ name: ${pools[0]!.name}, kind: InferencePool }]`,
  ];
  pools.forEach((p, i) => {
    docs.push(`apiVersion: inference.networking.k8s.io/v1\nkind: InferencePool\nmetadata: { name: ${p.name} }\nspec:\n  selector: { matchLabels: { pool: ${p.name} } }\n  targetPorts: [{ number: 8000 }]\n  endpointPickerRef: { name: infergate, failureMode: FailClose }`);
    for (const m of models[i]!) {
      docs.push(`apiVersion: inference.networking.x-k8s.io/v1alpha2\nkind: InferenceModel\nmetadata: { name: m-${docs.length} }\nspec:\n  modelName: "${m}"\n  criticality: Standard\n  poolRef: { name: ${p.name} }`);
    }
    for (const [c, priority] of Object.entries(OBJECTIVE_PRIORITY)) {
      docs.push(`apiVersion: inference.networking.x-k8s.io/v1alpha2\nkind: InferenceObjective\nmetadata: { name: ${objectiveName(p.name, c as Criticality)} }\nspec:\n  priority: ${priority}\n  poolRef: { name: ${p.name} }`);
    }
  });
  return docs.join('\n---\n') + '\n';
}

interface OneRun {
  workload: Workload;
  pools: PoolSpec[];
  podPorts: number[];
  dir: string;
  strategy: Strategy;
  timeScale: number;
  seed: number;
  podProcesses: number;
}

/** `n` pods in `parts` processes as even as possible: each process's first pod (offset) and its count. */
export function splitPods(n: number, parts: number): { offset: number; count: number }[] {
  const k = Math.max(1, Math.min(parts, n));
  return Array.from({ length: k }, (_, i) => {
    const offset = Math.floor((i * n) / k);
    return { offset, count: Math.floor(((i + 1) * n) / k) - offset };
  });
}

/** One strategy on one workload: fresh pod and gateway processes, the load, the processes' CPU. */
async function runOne({ workload, pools, podPorts, dir, strategy, timeScale: T, seed, podProcesses }: OneRun): Promise<{ metrics: RunMetrics; busy: string }> {
  const started = performance.now();
  const podChildren = await Promise.all(
    pools.flatMap((p, i) =>
      splitPods(p.pods, podProcesses).map(({ offset, count }, k) =>
        startChild({ role: 'pods', pods: count, port: podPorts[i]! + offset, model: p.model, loras: p.adapters, timeScale: T, engineConfig: p.engine, seed: seed + k }),
      ),
    ),
  );
  const gw = await startChild({
    role: 'gateway', strategy: strategy.name, manifests: join(dir, 'manifests.yaml'), endpoints: join(dir, 'endpoints.yaml'),
    scrapeIntervalMs: 50 * T, staleAfterMs: 2000 * T, timeScale: T, seed,
  });
  await new Promise((r) => setTimeout(r, 500 * T)); // first scrapes
  const cpu0 = [cpuSeconds(gw.child.pid), ...podChildren.map((c) => cpuSeconds(c.child.pid)), process.cpuUsage()];
  const wall0 = performance.now();
  const load = await driveLoad(gw.ready as string, workload, T);
  const wallS = (performance.now() - wall0) / 1000;
  const stats = await Promise.all((podChildren.flatMap((c) => c.ready as string[])).map(async (u) => (await fetch(`${u}/admin/state`)).json() as Promise<{ stats: Record<string, number>; lateness_ms: { p99: number } }>));
  const gwCpu = (cpuSeconds(gw.child.pid) - (cpu0[0] as number)) / wallS;
  const simCpu = podChildren.reduce((s, c, i) => s + cpuSeconds(c.child.pid) - (cpu0[i + 1] as number), 0) / wallS;
  const own = process.cpuUsage(cpu0[cpu0.length - 1] as NodeJS.CpuUsage);
  const loadCpu = (own.user + own.system) / 1e6 / wallS;
  const lateP99 = Math.max(...stats.map((s) => s.lateness_ms.p99 ?? 0));
  await stop(gw.child);
  await Promise.all(podChildren.map((c) => stop(c.child)));
  const sum = (k: string) => stats.reduce((s, x) => s + (x.stats[k] ?? 0), 0);
  const metrics: RunMetrics = { ...loadMetrics(strategy.name, workload, load, sum, started, sum('lora_loads')), groups: load.groups.result() };
  const failed = Object.entries(load.failures).map(([k, f]) => `${f.count}× ${k}${f.first ? ` (${f.first})` : ''}`).join('; ');
  const busy = `${failed ? `failed: ${failed}; ` : ''}gateway ${(gwCpu * 100).toFixed(0)}% of a core, pods ${(simCpu * 100).toFixed(0)}%, load generator ${(loadCpu * 100).toFixed(0)}%; simulator step lateness p99 ${lateP99.toFixed(0)} ms (wall); send lag p99 ${load.sendLagP99.toFixed(0)} ms`;
  return { metrics, busy };
}

export async function runE2E(name: string, options: E2EOptions): Promise<WorkloadResult> {
  const def = workloadByName(name);
  if (!def) throw new Error(`end-to-end mode runs the synthetic workloads (not "${name}")`);
  const T = options.timeScale ?? 2;
  const podProcesses = options.podProcesses ?? 1;
  const base: WorkloadParams = { seed: options.seed, rate: 1, durationMs: 60_000, pods: options.pods };
  const cap = measureCapacity(def.generate, base);
  const dir = mkdtempSync(join(tmpdir(), 'infergate-e2e-'));
  const levels: LevelResult[] = [];
  const simulated: LevelResult[] = [];
  const kernel = await loadKernelModule();
  const durationMs = options.durationMs ?? (options.quick ? 20_000 : 30_000);
  let pools: PoolSpec[] = [];
  let warmupMs = 0;
  let arrivalsMs = durationMs;
  const notes: string[] = [];
  for (const level of options.levels ?? [0.8]) {
    const poolRates = Object.fromEntries(Object.entries(cap.poolRates).map(([p, r]) => [p, r * level]));
    const workload = def.generate({ ...base, durationMs, rate: cap.total * level, poolRates, capacity: cap.total });
    pools = workload.pools;
    warmupMs = workload.warmupMs;
    arrivalsMs = workload.durationMs;
    const endpoints: string[] = [];
    let port = BASE_PORT;
    const podPorts = pools.map((p) => {
      const first = port;
      for (let i = 0; i < p.pods; i++) endpoints.push(`  - { address: 127.0.0.1, port: ${port++}, labels: { pool: ${p.name} } }`);
      return first;
    });
    writeFileSync(join(dir, 'endpoints.yaml'), `endpoints:\n${endpoints.join('\n')}\n`);
    const models = pools.map((p) => [p.model, ...p.adapters]);
    writeFileSync(join(dir, 'manifests.yaml'), manifests(pools, models));
    const runs: RunMetrics[] = [];
    for (const strategy of options.strategies) {
      const { metrics, busy } = await runOne({ workload, pools, podPorts, dir, strategy, timeScale: T, seed: options.seed, podProcesses });
      runs.push(metrics);
      notes.push(`${strategy.name}: ${busy}`);
      options.progress?.(`e2e ${name} ${Math.round(level * 100)}% ${strategy.name}: ttft p99 ${metrics.ttft.p99.toFixed(0)} ms; ${busy}`);
    }
    let unloaded: RunMetrics[] | undefined;
    if (def.unloaded) {
      const alone = def.unloaded(workload);
      unloaded = [];
      for (const strategy of options.strategies) {
        const { metrics } = await runOne({ workload: alone, pools, podPorts, dir, strategy, timeScale: T, seed: options.seed, podProcesses });
        unloaded.push(metrics);
        options.progress?.(`e2e ${name} ${Math.round(level * 100)}% ${strategy.name} (unloaded): ttft p99 ${metrics.ttft.p99.toFixed(0)} ms`);
      }
    }
    levels.push({ level, rate: cap.total * level, offeredRate: offeredRate(workload), requests: workload.requests.length, runs, unloaded });
    const simRuns = options.strategies.map((s) => runSimulated(workload, s, { seed: options.seed, kernel }));
    simulated.push({ level, rate: cap.total * level, requests: workload.requests.length, runs: simRuns });
  }
  return {
    workload: name, describe: describeRun(def, options.pods), mode: 'e2e', capacity: cap, capacityMethod: CAPACITY_METHOD,
    pods: Object.fromEntries(pools.map((p) => [p.name, p.pods])), durationMs: arrivalsMs, warmupMs,
    notes: `Time scale ${T} (wall ms per engine ms); latencies in engine ms; ITL column = time per output token per request (client side). Process load — ${notes.join('; ')}`,
    levels,
    simulated,
  };
}
