/**
 * A whole scheduling decision, no I/O: a pool snapshot with live metrics,
 * infergate's default profile, decide() then dispatched() as the data path
 * calls them. Per case (bench/decision/cases.ts): per-call wall-time
 * percentiles of decide, dispatched and the two together, the GCs during the
 * measured decisions, the memory the scheduler kept (heap, RSS, typed arrays)
 * and the prefix index's size.
 *
 * Each variant × case runs in its own process (a fresh heap: one variant's
 * garbage must not pause another's), the variants alternate, `--runs` times,
 * and the summary gives the median of the runs for each figure.
 *
 *   npx tsx bench/decision.ts                      # this tree, WASM kernel, both cases
 *   npx tsx bench/decision.ts --case long-240k     # one case (chat-32k, long-240k)
 *   npx tsx bench/decision.ts --baseline a838bfb   # … side by side with that commit's scheduler
 *   npx tsx bench/decision.ts --twin --runs 5      # also the TypeScript twin; 5 runs each
 *   npx tsx bench/decision.ts --flow-control       # also with flow control on and idle (admission per decision),
 *                                                  # by the utilization detector alone (+fc) and with the
 *                                                  # concurrency detector too (+fc-conc); every variant then times
 *                                                  # the admission slot, empty without it; each flow-control variant
 *                                                  # adds a paired pass in one process: decisions in turn with and
 *                                                  # without the admission, a null group (also without), and
 *                                                  # a floor group (one counter incremented in the slot)
 *   npx tsx bench/decision.ts --quick              # smoke run (npm run bench -- --quick)
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { loadavg } from 'node:os';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CASES, caseByName, type DecisionCase } from './decision/cases.ts';
import type { DecisionResult, MeasureArgs } from './decision/measure.ts';
import { readFlags, runBench, UsageError } from './lib/flags.ts';
import { median } from './lib/stats.ts';

const root = fileURLToPath(new URL('..', import.meta.url));
const CHILD = fileURLToPath(new URL('./decision/child.ts', import.meta.url));
/** infergate's default profile matches whole prompts up to 2048 blocks (src/scheduling/profile.ts). */
const DEFAULT_PROFILE_MAX_BLOCKS = 2048;

interface Variant {
  label: string;
  index: string;
  twin: boolean;
  /** This tree's scheduler: its prefix index can be replicated and counted. */
  current: boolean;
  /** Flow control on, idle: admission before each decision. */
  flowControl?: boolean;
  /** With flow control: the concurrency detector's limit (0: the utilization detector alone). */
  maxConcurrency?: number;
  /** Time the (empty unless flow control is on) admission slots: every variant of a --flow-control run. */
  admissionSlots?: boolean;
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

function runChild(v: Variant, c: DecisionCase, decisions: number, fullIndex: boolean): DecisionResult {
  const args: MeasureArgs = {
    label: v.label, index: v.index, twin: v.twin, case: c.name, decisions, replica: v.current, maxBlocks: DEFAULT_PROFILE_MAX_BLOCKS,
    fullIndex: v.current && fullIndex,
    ...(v.flowControl ? { flowControl: true, maxConcurrency: v.maxConcurrency ?? 0 } : {}),
    ...(v.admissionSlots ? { admissionSlots: true } : {}),
  };
  const r = spawnSync(process.execPath, [...process.execArgv, '--expose-gc', CHILD, JSON.stringify(args)], {
    cwd: root,
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  });
  if (r.status !== 0) throw new Error(`${v.label} ${c.name}: child exited with ${r.status ?? r.signal}`);
  return JSON.parse(r.stdout.trim().split('\n').pop()!) as DecisionResult;
}

const f = (x: number) => x.toFixed(1).padStart(6);
const signed = (x: number) => `${x >= 0 ? '+' : ''}${x.toFixed(2)}`;
const mb = (x: number) => x.toFixed(1).padStart(5);

function line(r: DecisionResult): string {
  const index = r.index ? ` | prefix index ${r.index.entries} entries (${r.index.keys} hashes), ${mb(r.index.typedArraysMB)} MB` : '';
  const full = r.fullIndex ? `; at capacity ${r.fullIndex.entries} entries, ${mb(r.fullIndex.typedArraysMB)} MB` : '';
  return (
    `${r.label.padEnd(14)} | decide p50 ${f(r.decide.p50)} p90 ${f(r.decide.p90)} p99 ${f(r.decide.p99)} p99.9 ${f(r.decide.p999)} µs` +
    ` | dispatched p50 ${f(r.dispatched.p50)} p99 ${f(r.dispatched.p99)} µs | both p50 ${f(r.both.p50)} p99 ${f(r.both.p99)} µs` +
    (r.admission ? ` | ${r.label.includes('+fc') ? "flow control's own" : 'empty admission slot (the timer)'} p50 ${f(r.admission.p50)} p99 ${f(r.admission.p99)} µs` : '') +
    ` | GC ${String(r.gc.minor).padStart(4)} minor ${String(r.gc.major).padStart(3)} major ${r.gc.ms.toFixed(0).padStart(4)} ms` +
    ` | kept: heap ${mb(r.memory.heapMB)} MB, RSS ${mb(r.memory.rssMB)} MB, typed arrays ${mb(r.memory.typedArraysMB)} MB${index}${full}` +
    ` | preempted ${(100 * r.preempted.share).toFixed(1).padStart(4)}%, p99 of the rest ${f(r.preempted.p99Undisturbed)} µs` +
    ` | control p50 ${f(r.control.p50)} p99 ${f(r.control.p99)} µs` +
    (r.paired ? ` | paired in one process: decide p50 ${f(r.paired.without)} without, ${f(r.paired.with)} with flow control (${signed(r.paired.with - r.paired.without)} µs); null pair (both without) ${signed(r.paired.null - r.paired.without)} µs; floor (one counter) ${signed(r.paired.floor - r.paired.without)} µs` : '')
  );
}

/** The median of each figure over runs. */
function medianResult(rs: DecisionResult[]): DecisionResult {
  const m = (pick: (r: DecisionResult) => number) => median(rs.map(pick));
  const first = rs[0]!;
  return {
    label: first.label,
    case: first.case,
    decide: { p50: m((r) => r.decide.p50), p90: m((r) => r.decide.p90), p99: m((r) => r.decide.p99), p999: m((r) => r.decide.p999) },
    dispatched: { p50: m((r) => r.dispatched.p50), p99: m((r) => r.dispatched.p99) },
    both: { p50: m((r) => r.both.p50), p99: m((r) => r.both.p99) },
    ...(first.admission ? { admission: { p50: m((r) => r.admission!.p50), p99: m((r) => r.admission!.p99) } } : {}),
    gc: { minor: m((r) => r.gc.minor), major: m((r) => r.gc.major), ms: m((r) => r.gc.ms) },
    preempted: { share: m((r) => r.preempted.share), p99Undisturbed: m((r) => r.preempted.p99Undisturbed) },
    control: { p50: m((r) => r.control.p50), p99: m((r) => r.control.p99) },
    memory: { heapMB: m((r) => r.memory.heapMB), rssMB: m((r) => r.memory.rssMB), typedArraysMB: m((r) => r.memory.typedArraysMB) },
    index: first.index && { keys: m((r) => r.index!.keys), entries: m((r) => r.index!.entries), typedArraysMB: m((r) => r.index!.typedArraysMB) },
    fullIndex: first.fullIndex && { entries: m((r) => r.fullIndex!.entries), typedArraysMB: m((r) => r.fullIndex!.typedArraysMB), buildMs: m((r) => r.fullIndex!.buildMs) },
    ...(first.paired ? { paired: { with: m((r) => r.paired!.with), without: m((r) => r.paired!.without), null: m((r) => r.paired!.null), floor: m((r) => r.paired!.floor) } } : {}),
  };
}

async function main(): Promise<void> {
  const flags = readFlags();
  const quick = flags.quick;
  const cases = (flags.list('case') ?? CASES.map((c) => c.name)).map((n) => caseByName(n) ?? (() => { throw new UsageError(`unknown --case "${n}" (known: ${CASES.map((c) => c.name).join(', ')})`); })());
  const current = `${root}src/scheduling/index.ts`;
  const variants: Variant[] = [{ label: 'wasm', index: pathToFileURL(current).href, twin: false, current: true }];
  const baseline = quick ? undefined : flags.string('baseline');
  if (baseline) variants.unshift({ label: `wasm@${baseline}`, index: pathToFileURL(baselineTree(baseline)).href, twin: false, current: false });
  // Flow control's idle cost, side by side (issue 17: nothing measurable): --flow-control.
  if (flags.has('flow-control')) {
    variants.push({ label: 'wasm+fc', index: pathToFileURL(current).href, twin: false, current: true, flowControl: true });
    // And with llm-d's concurrency detector too (its default limit, 100 a ready endpoint), which counts the pool's requests in flight.
    variants.push({ label: 'wasm+fc-conc', index: pathToFileURL(current).href, twin: false, current: true, flowControl: true, maxConcurrency: 100 });
    // Every variant reads the clock around the admission alike; without flow control the slot times the timer alone.
    for (const v of variants) v.admissionSlots = true;
  }
  if (flags.has('twin')) variants.push({ label: 'ts', index: pathToFileURL(current).href, twin: true, current: true });
  const runs = flags.number('runs', quick ? 1 : 3);

  for (const c of cases) {
    const decisions = flags.number('decisions', quick ? c.quickDecisions : c.decisions);
    const load = loadavg().map((x) => x.toFixed(2)).join(' ');
    console.log(`\ndecision benchmark, ${c.name} — node ${process.version}, ${c.describe}, ${decisions} decisions × ${runs} runs per variant, wall time; load average ${load}`);
    const results = new Map<string, DecisionResult[]>(variants.map((v) => [v.label, []]));
    for (let run = 0; run < runs; run++) {
      // Alternate the order, so a drift in the machine's load does not favour one variant.
      const order = run % 2 ? [...variants].reverse() : variants;
      for (const v of order) {
        const r = runChild(v, c, decisions, !quick);
        results.get(v.label)!.push(r);
        console.log(`run ${run + 1} ${line(r)}`);
      }
    }
    if (runs > 1) {
      console.log(`median of ${runs} runs (load average now ${loadavg().map((x) => x.toFixed(2)).join(' ')}):`);
      for (const rs of results.values()) console.log(`      ${line(medianResult(rs))}`);
    }
  }
}

await runBench(main);
