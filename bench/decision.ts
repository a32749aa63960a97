/**
 * A whole scheduling decision, no I/O: pool snapshot of 256 endpoints with
 * live metrics, a 32 KiB chat prompt, infergate's default profile (fresh
 * metrics filter, five scorers, max-score) — decide() then dispatched(), as
 * the data path calls them. Reports per-decision wall-time percentiles and
 * the garbage collections that happened during the measured decisions.
 *
 * Each variant runs in its own process (a fresh heap: one variant's garbage
 * must not pause another's), the variants alternate, `--runs` times, and the
 * table gives the median of the runs for each figure.
 *
 *   npx tsx bench/decision.ts                      # this tree, WASM kernel
 *   npx tsx bench/decision.ts --baseline a838bfb   # … side by side with that commit's scheduler
 *   npx tsx bench/decision.ts --twin --runs 5      # also the TypeScript twin; 5 runs each
 *   npx tsx bench/decision.ts --quick              # smoke run (npm run bench --quick)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { PerformanceObserver } from 'node:perf_hooks';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Endpoint } from '../src/endpoints/types.ts';
import type { Pool } from '../src/routing/schema.ts';
import { loadKernelModule } from '../src/runtime/node/index.ts';
import type { createScheduler as CreateScheduler } from '../src/scheduling/index.ts';
import { median } from './routing/stats.ts';
import type { SchedulingRequest } from '../src/scheduling/scheduler.ts';

const ENDPOINTS = 256;
const NOW = 1_800_000_000_000;
const root = fileURLToPath(new URL('..', import.meta.url));
const args = process.argv.slice(2);
const flag = (name: string) => args.includes(name);
const option = (name: string) => {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = flag('--quick') || process.env.INFERGATE_BENCH_QUICK === '1';
const DECISIONS = Number(option('--decisions') ?? (quick ? 2000 : 20_000));

interface Result {
  label: string;
  decide: { p50: number; p90: number; p99: number; p999: number };
  dispatched: { p50: number; p99: number };
  gc: { minor: number; major: number; ms: number };
  /**
   * A second pass with the process's involuntary context switches read around
   * each decide(): the share of decisions the OS preempted, and the p99 of
   * those it did not (the code's own tail, without the machine's).
   */
  preempted: { share: number; p99Undisturbed: number };
  /**
   * Control: a pure arithmetic loop (no allocation, no memory beyond 32 KB)
   * sized to the decision's median, timed the same way. Its p99 is the tail
   * this machine adds to any piece of work that long.
   */
  control: { p50: number; p99: number };
}

// ---------------------------------------------------------------- the measurement (child process)

let rng = 42;
const random = () => (rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) / 4294967296;

function makeEndpoints(): Endpoint[] {
  return Array.from({ length: ENDPOINTS }, (_, i) => ({
    id: `10.1.${i >> 8}.${i & 255}:8000`,
    address: `10.1.${i >> 8}.${i & 255}`,
    port: 8000,
    labels: { app: 'vllm' },
    ready: true,
    engine: 'vllm',
    scrapedAt: NOW - Math.floor(random() * 50),
    metrics: {
      waiting: Math.floor(random() * 6),
      running: Math.floor(random() * 64),
      kvUsage: random() * 0.9,
      activeAdapters: i % 3 === 0 ? ['english-bot'] : ['spanish-bot'],
      waitingAdapters: [],
      maxAdapters: 4,
      blockSize: 16,
      totalBlocks: 8192,
    },
  }));
}

/** A 32 KiB chat prompt: a shared system prompt and one of 64 conversations. */
function chatPrompt(conversation: number): string {
  const system = 'system: You are a careful assistant for an airline. Answer briefly and cite the policy section. '.repeat(80);
  const user = `user: conversation ${conversation}: ` + 'I would like to change my booking to a later flight, please. '.repeat(400);
  return (system + user).slice(0, 32 * 1024);
}

const percentile = (sorted: Float64Array, p: number) => sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;

const controlData = new Float64Array(4096).map((_, i) => i * 0.5);
let controlSink = 0;
function controlWork(passes: number): void {
  let sum = 0;
  for (let k = 0; k < passes; k++) for (let i = 0; i < controlData.length; i++) sum += controlData[i]! * 1.0001;
  controlSink += sum;
}

function controlLoop(targetMicros: number): { p50: number; p99: number } {
  const time = (passes: number) => {
    const t0 = process.hrtime.bigint();
    controlWork(passes);
    return Number(process.hrtime.bigint() - t0) / 1000;
  };
  // Calibrate on the loop as it will run (optimised, at this size), twice.
  let passes = 1;
  for (let round = 0; round < 3; round++) {
    const median = Array.from({ length: 300 }, () => time(passes)).sort((a, b) => a - b)[150]!;
    passes = Math.max(1, Math.min(passes * 8, Math.round((passes * targetMicros) / Math.max(median, 0.05))));
  }
  const times = new Float64Array(DECISIONS);
  for (let r = 0; r < DECISIONS; r++) times[r] = time(passes);
  times.sort();
  if (controlSink === 0) console.error('unreachable');
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

async function measure(label: string, schedulingIndex: string, twin: boolean): Promise<Result> {
  const { createScheduler } = (await import(schedulingIndex)) as { createScheduler: typeof CreateScheduler };
  const kernel = twin ? undefined : await loadKernelModule();
  const scheduler = createScheduler({ kernel, now: () => NOW, random });
  const endpoints = makeEndpoints();
  const snapshot = { pool: 'bench', endpoints, at: NOW, hasMetrics: true };
  const pool: Pool = { name: 'bench', selector: {}, targetPorts: [8000], appProtocol: 'http', failureMode: 'FailClose' };
  const prompts = Array.from({ length: 64 }, (_, i) => chatPrompt(i));
  const request = (r: number): SchedulingRequest => ({
    requestId: `r${r}`, targetModel: r % 2 ? 'english-bot' : 'spanish-bot', requestedModel: 'chatbot',
    prompt: prompts[r % prompts.length]!, criticality: 'Standard', priority: 0, explain: false,
  });
  // Warm up (JIT, kernel tier-up) and fill the prefix index.
  for (let r = 0; r < 3000; r++) {
    const req = request(r);
    const d = scheduler.decide(pool, snapshot, req);
    if (d.kind === 'route') {
      scheduler.dispatched(pool, d.endpoint, req);
      scheduler.completed(pool, d.endpoint, req);
    }
  }
  const requests = Array.from({ length: DECISIONS }, (_, r) => request(r));
  const gc = { minor: 0, major: 0, ms: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      if (e.startTime > measuredUntil) continue;
      // detail.kind: 1 scavenge (minor), 2 mark-sweep-compact, 4 incremental marking, 8 weak callbacks.
      const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? 0;
      if (kind === 1) gc.minor++;
      else gc.major++;
      gc.ms += e.duration;
    }
  });
  const times = new Float64Array(DECISIONS);
  const dispatchTimes = new Float64Array(DECISIONS);
  observer.observe({ entryTypes: ['gc'] });
  let measuredUntil = Infinity;
  for (let r = 0; r < DECISIONS; r++) {
    const req = requests[r]!;
    const t0 = process.hrtime.bigint();
    const d = scheduler.decide(pool, snapshot, req);
    const t1 = process.hrtime.bigint();
    if (d.kind !== 'route') throw new Error(`unexpected ${d.kind}`);
    scheduler.dispatched(pool, d.endpoint, req);
    const t2 = process.hrtime.bigint();
    scheduler.completed(pool, d.endpoint, req);
    times[r] = Number(t1 - t0) / 1000;
    dispatchTimes[r] = Number(t2 - t1) / 1000;
  }
  measuredUntil = performance.now();
  // The attribution pass (resourceUsage allocates, so it stays out of the headline loop).
  const undisturbed = new Float64Array(DECISIONS);
  let kept = 0;
  for (let r = 0; r < DECISIONS; r++) {
    const req = requests[r]!;
    const before = process.resourceUsage().involuntaryContextSwitches;
    const t0 = process.hrtime.bigint();
    const d = scheduler.decide(pool, snapshot, req);
    const t1 = process.hrtime.bigint();
    const after = process.resourceUsage().involuntaryContextSwitches;
    if (d.kind !== 'route') throw new Error(`unexpected ${d.kind}`);
    scheduler.dispatched(pool, d.endpoint, req);
    scheduler.completed(pool, d.endpoint, req);
    if (after === before) undisturbed[kept++] = Number(t1 - t0) / 1000;
  }
  const calm = undisturbed.subarray(0, kept).sort();
  const control = controlLoop(percentile(times, 0.5));
  await new Promise((r) => setTimeout(r, 100)); // GC entries are delivered on a later turn of the event loop
  observer.disconnect();
  times.sort();
  dispatchTimes.sort();
  return {
    label,
    decide: { p50: percentile(times, 0.5), p90: percentile(times, 0.9), p99: percentile(times, 0.99), p999: percentile(times, 0.999) },
    dispatched: { p50: percentile(dispatchTimes, 0.5), p99: percentile(dispatchTimes, 0.99) },
    gc,
    preempted: { share: 1 - kept / DECISIONS, p99Undisturbed: kept ? percentile(calm, 0.99) : NaN },
    control,
  };
}

// ---------------------------------------------------------------- the driver (parent process)

interface Variant {
  label: string;
  index: string;
  twin: boolean;
}

/** That commit's src/ in node_modules/.cache (so its imports resolve), keyed by the full hash. */
function baselineTree(ref: string): string {
  const sha = execFileSync('git', ['rev-parse', '--verify', `${ref}^{commit}`], { cwd: root, encoding: 'utf8' }).trim();
  const dir = `${root}node_modules/.cache/infergate-bench/${sha}`;
  if (!existsSync(`${dir}/src/scheduling/index.ts`)) {
    mkdirSync(dir, { recursive: true });
    execFileSync('sh', ['-c', `git archive ${sha} src | tar -x -C '${dir}'`], { cwd: root });
  }
  return `${dir}/src/scheduling/index.ts`;
}

function runChild(v: Variant): Result {
  const r = spawnSync(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--child', v.label, v.index, v.twin ? 'ts' : 'wasm', '--decisions', String(DECISIONS)], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  if (r.status !== 0) throw new Error(`${v.label}: child exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as Result;
}


async function main(): Promise<void> {
  if (flag('--child')) {
    const i = args.indexOf('--child');
    const [label, index, kernel] = args.slice(i + 1, i + 4) as [string, string, string];
    console.log(JSON.stringify(await measure(label, index, kernel === 'ts')));
    return;
  }
  const current = `${root}src/scheduling/index.ts`;
  const variants: Variant[] = [{ label: 'wasm', index: pathToFileURL(current).href, twin: false }];
  const baseline = quick ? undefined : option('--baseline');
  if (baseline) variants.unshift({ label: `wasm@${baseline}`, index: pathToFileURL(baselineTree(baseline)).href, twin: false });
  if (flag('--twin')) variants.push({ label: 'ts', index: pathToFileURL(current).href, twin: true });
  const runs = Number(option('--runs') ?? (quick ? 1 : 3));

  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  console.log(`decision benchmark — node ${process.version}, ${ENDPOINTS} endpoints, 32 KiB prompt, ${DECISIONS} decisions × ${runs} runs per variant, wall time; load average ${load}`);
  const f = (x: number) => x.toFixed(1).padStart(6);
  const line = (r: Result) =>
    `${r.label.padEnd(14)} | decide p50 ${f(r.decide.p50)} p90 ${f(r.decide.p90)} p99 ${f(r.decide.p99)} p99.9 ${f(r.decide.p999)} µs` +
    ` | dispatched p50 ${f(r.dispatched.p50)} p99 ${f(r.dispatched.p99)} µs | GC ${String(r.gc.minor).padStart(4)} minor ${String(r.gc.major).padStart(3)} major ${r.gc.ms.toFixed(0).padStart(4)} ms` +
    ` | preempted ${(100 * r.preempted.share).toFixed(1).padStart(4)}%, p99 of the rest ${f(r.preempted.p99Undisturbed)} µs` +
    ` | control p50 ${f(r.control.p50)} p99 ${f(r.control.p99)} µs`;
  const results = new Map<string, Result[]>(variants.map((v) => [v.label, []]));
  for (let run = 0; run < runs; run++) {
    // Alternate the order, so a drift in the machine's load does not favour one variant.
    const order = run % 2 ? [...variants].reverse() : variants;
    for (const v of order) {
      const r = runChild(v);
      results.get(v.label)!.push(r);
      console.log(`run ${run + 1} ${line(r)}`);
    }
  }
  if (runs > 1) {
    console.log(`median of ${runs} runs (load average now ${loadavg().map((x) => x.toFixed(2)).join(' ')}):`);
    for (const [label, rs] of results) {
      const m = (pick: (r: Result) => number) => median(rs.map(pick));
      console.log(
        `      ${line({
          label,
          decide: { p50: m((r) => r.decide.p50), p90: m((r) => r.decide.p90), p99: m((r) => r.decide.p99), p999: m((r) => r.decide.p999) },
          dispatched: { p50: m((r) => r.dispatched.p50), p99: m((r) => r.dispatched.p99) },
          gc: { minor: m((r) => r.gc.minor), major: m((r) => r.gc.major), ms: m((r) => r.gc.ms) },
          preempted: { share: m((r) => r.preempted.share), p99Undisturbed: m((r) => r.preempted.p99Undisturbed) },
          control: { p50: m((r) => r.control.p50), p99: m((r) => r.control.p99) },
        })}`,
      );
    }
  }
}

await main();
