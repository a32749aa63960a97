/**
 * End-to-end mode of the precise-vs-approximate comparison: real processes
 * over loopback — simulated pods publishing KV events over ZeroMQ, one agent
 * (metrics and the KV index), one or two gateways following it behind a
 * round-robin front, and this process generating load (bench/routing's
 * open-loop generator). The same requests (same seed) for every run; the
 * pods' caches are put under pressure as in the simulated-time mode.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { measureCapacity } from '../capacity.ts';
import { driveLoad, loadMetrics, objectiveName } from '../e2e-load.ts';
import type { RunMetrics, WorkloadParams } from '../types.ts';
import { workloadByName } from '../workloads/index.ts';
import type { ComparisonRow } from './report.ts';
import { pressured } from './sim.ts';
import { preciseProfileDoc } from './strategies.ts';

const CHILD = fileURLToPath(new URL('./e2e-child.ts', import.meta.url));

export interface PreciseE2EOptions {
  seed: number;
  quick: boolean;
  levels: number[];
  numGpuBlocks: number;
  durationMs?: number;
  timeScale?: number;
  which: string;
  /** Only these runs (names as in the table), e.g. to look at one. */
  only?: string[];
  progress?: (line: string) => void;
}

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

/** CPU seconds (user + system) of a process so far, from /proc (NaN once it is gone). */
function cpuSeconds(pid: number | undefined): number {
  if (pid === undefined) return NaN;
  try {
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    return NaN;
  }
}

const RUNS = [
  { name: 'infergate-default', replicas: 1, precise: false },
  { name: 'infergate-default×2', replicas: 2, precise: false },
  { name: 'infergate-precise', replicas: 1, precise: true },
  { name: 'infergate-precise×2', replicas: 2, precise: true },
];

export async function runPreciseE2E(o: PreciseE2EOptions): Promise<{ rows: ComparisonRow[]; notes: string }> {
  if (o.which !== 'shared-prefix' && o.which !== 'all') throw new Error('the end-to-end mode runs shared-prefix (traces are simulated-time only)');
  const T = o.timeScale ?? 2;
  const def = workloadByName('shared-prefix')!;
  const generate = (p: WorkloadParams) => pressured(def.generate(p), { numGpuBlocks: o.numGpuBlocks });
  const base: WorkloadParams = { seed: o.seed, rate: 1, durationMs: 60_000 };
  const cap = measureCapacity(generate, base);
  const dir = mkdtempSync(join(tmpdir(), 'infergate-precise-e2e-'));
  const durationMs = o.durationMs ?? (o.quick ? 20_000 : 60_000);
  const rows: ComparisonRow[] = [];
  const notes: string[] = [];
  const doc = preciseProfileDoc('0');
  doc.schedulingProfiles[0]!.name = 'default'; // the pools name no profile: replace the default one
  writeFileSync(join(dir, 'precise.json'), JSON.stringify(doc));
  for (const level of o.levels) {
    const workload = generate({ ...base, durationMs, rate: cap.total * level, poolRates: Object.fromEntries(Object.entries(cap.poolRates).map(([k, r]) => [k, r * level])), capacity: cap.total });
    const pool = workload.pools[0]!;
    writeFileSync(join(dir, 'manifests.yaml'), manifests(pool.name, pool.model));
    for (const run of RUNS.filter((r) => !o.only || o.only.includes(r.name))) {
      const started = performance.now();
      const children: ChildProcess[] = [];
      try {
        const pods = await startChild({ role: 'pods', pods: pool.pods, port: 0, model: pool.model, timeScale: T, engineConfig: pool.engine, seed: o.seed });
        children.push(pods.child);
        const podInfo = pods.ready as { port: number; kv: string; replay: string }[];
        writeFileSync(join(dir, 'endpoints.json'), JSON.stringify({ endpoints: podInfo.map((p) => ({ address: '127.0.0.1', port: p.port, labels: { pool: pool.name }, kvEventsEndpoint: p.kv, kvEventsReplayEndpoint: p.replay })) }));
        const agent = await startChild({ role: 'agent', endpoints: join(dir, 'endpoints.json'), scrapeIntervalMs: 50 * T });
        children.push(agent.child);
        const gateways = [];
        for (let i = 0; i < run.replicas; i++) {
          const g = await startChild({
            role: 'gateway', agent: agent.ready, manifests: join(dir, 'manifests.yaml'), kvEvents: run.precise,
            schedulingConfig: run.precise ? join(dir, 'precise.json') : undefined, scrapeIntervalMs: 50 * T, staleAfterMs: 2000 * T,
          });
          children.push(g.child);
          gateways.push(g.ready as string);
        }
        const front = await startChild({ role: 'front', backends: gateways });
        children.push(front.child);
        await new Promise((r) => setTimeout(r, 1000 * T)); // first scrapes, index streams in step
        const gatewayChildren = children.slice(2, 2 + run.replicas);
        const cpu0 = { pods: cpuSeconds(pods.child.pid), agent: cpuSeconds(agent.child.pid), front: cpuSeconds(front.child.pid), gateways: gatewayChildren.map((c) => cpuSeconds(c.pid)) };
        const wall0 = performance.now();
        const load = await driveLoad(front.ready as string, workload, T);
        const wallS = (performance.now() - wall0) / 1000;
        const share = (pid: number | undefined, before: number) => `${Math.round(((cpuSeconds(pid) - before) / wallS) * 100)}%`;
        const busy = `pods ${share(pods.child.pid, cpu0.pods)}, agent ${share(agent.child.pid, cpu0.agent)}, gateway${run.replicas > 1 ? 's' : ''} ${gatewayChildren.map((c, i) => share(c.pid, cpu0.gateways[i]!)).join(' + ')}, front ${share(front.child.pid, cpu0.front)} of a core`;
        const stats = await Promise.all(podInfo.map(async (p) => (await fetch(`http://127.0.0.1:${p.port}/admin/state`)).json() as Promise<{ stats: Record<string, number> }>));
        const sum = (k: string) => stats.reduce((s, x) => s + (x.stats[k] ?? 0), 0);
        const m: RunMetrics = loadMetrics(run.name, workload, load, sum, started, 0);
        rows.push({ workload: 'shared-prefix (e2e)', level: `${Math.round(level * 100)}%`, run: m });
        o.progress?.(`e2e shared-prefix ${Math.round(level * 100)}% ${run.name}: hits ${(m.prefixHitRate * 100).toFixed(1)}%, ttft p99 ${m.ttft.p99.toFixed(0)} ms, errors ${m.errors}, send lag p99 ${load.sendLagP99.toFixed(0)} ms wall; ${busy}`);
        notes.push(`${run.name} ${Math.round(level * 100)}%: ${busy}, send lag p99 ${load.sendLagP99.toFixed(0)} ms`);
      } finally {
        for (const c of children.reverse()) await stop(c);
      }
    }
  }
  return { rows, notes: `time scale ${T} (wall ms per engine ms; latencies in engine ms); ${o.numGpuBlocks} GPU blocks per pod; ${durationMs / 1000} s of arrivals plus the replayed history; processes: pods, agent, gateway(s), round-robin front, load generator; ${notes.join('; ')}` };
}

function manifests(pool: string, model: string): string {
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: bench }
spec:
  rules:
  - backendRefs: [{ name: ${pool}, kind: InferencePool }]
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: ${pool} }
spec:
  selector: { matchLabels: { pool: ${pool} } }
  targetPorts: [{ number: 8000 }]
  endpointPickerRef: { name: infergate, failureMode: FailClose }
---
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceModel
metadata: { name: bench-model }
spec:
  modelName: "${model}"
  criticality: Standard
  poolRef: { name: ${pool} }
${(['Critical', 'Standard', 'Sheddable'] as const).map((c, i) => `---
# The load generator names each request's objective (its criticality) in llm-d's header.
apiVersion: inference.networking.x-k8s.io/v1alpha2
kind: InferenceObjective
metadata: { name: ${objectiveName(pool, c)} }
spec:
  priority: ${1 - i}
  poolRef: { name: ${pool} }
`).join('')}`;
}
