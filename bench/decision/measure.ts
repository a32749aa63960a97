/**
 * One `bench:decision` measurement, run in a child process of its own (a
 * fresh heap, started with --expose-gc): `tsx bench/decision/measure.ts JSON`
 * prints one JSON line, a `DecisionResult`.
 *
 * Times are wall time per call. Memory is read after a full GC before the
 * warm-up and again after the measured decisions: heap used, RSS and typed
 * arrays (where the prefix index keeps its tables) grow by what the scheduler
 * kept. The prefix index itself is private to the scheduler, so its entries
 * are counted on a replica fed the same dispatches (same hashing, same
 * per-endpoint capacity) after the measurement.
 */
import { PerformanceObserver } from 'node:perf_hooks';
import type { Pool } from '../../src/routing/schema.ts';
import { loadKernelModule } from '../../src/runtime/node/index.ts';
import type { createScheduler as CreateScheduler } from '../../src/scheduling/index.ts';
import { BLOCK_BYTES, type Kernel } from '../../src/scheduling/kernel/layout.ts';
import { instantiateKernel } from '../../src/scheduling/kernel/wasm.ts';
import { TwinKernel } from '../../src/scheduling/kernel/twin.ts';
import { lruCapacity } from '../../src/scheduling/plugins/producer/approx-prefix-cache.ts';
import { PrefixIndex } from '../../src/scheduling/prefix-index.ts';
import type { SchedulingRequest } from '../../src/scheduling/scheduler.ts';
import { FlowAdmission } from '../../src/scheduling/admission.ts';
import { DEFAULT_FLOW_CONTROL } from '../../src/flowcontrol/config.ts';
import { DEFAULT_SATURATION } from '../../src/scheduling/config.ts';
import { seeded } from '../lib/rand.ts';
import { percentile } from '../lib/stats.ts';
import { caseByName, casePrompt, makeEndpoints, type DecisionCase } from './cases.ts';

export interface MeasureArgs {
  label: string;
  /** file: URL of the scheduling index.ts to measure (this tree's, or a baseline commit's). */
  index: string;
  twin: boolean;
  case: string;
  decisions: number;
  /** Count the prefix index's entries on a replica (this tree's index only). */
  replica: boolean;
  /** The profile's prefix match cap, blocks (for the replica; infergate's default: 2048). */
  maxBlocks: number;
  /** Also build an index with every endpoint's LRU full of distinct blocks: its upper bound for this pool. */
  fullIndex: boolean;
  /**
   * Flow control on, idle (the pool has room): each decision is first admitted
   * as the data path admits it (FlowAdmission.admitThen, then started()), and
   * each completion wakes the pool's queue — its whole cost when nothing waits.
   */
  flowControl?: boolean;
  /** With flow control: the concurrency detector's limit of requests in flight a ready endpoint (0: not used). */
  maxConcurrency?: number;
  /**
   * Time the admission's two slots (before decide, after the completion) in
   * this variant too, empty when flow control is off: every variant of a
   * `--flow-control` run reads the clock alike, and the empty slot's time is
   * the timer's own cost, beside flow control's.
   */
  admissionSlots?: boolean;
}

export interface DecisionResult {
  label: string;
  case: string;
  decide: { p50: number; p90: number; p99: number; p999: number };
  dispatched: { p50: number; p99: number };
  /** decide() + dispatched() of one request (with flow control, decide includes the admission). */
  both: { p50: number; p99: number };
  /** The admission slots' time (with `admissionSlots`): flow control's own work when on (admitThen + started, and the completion's wake-up), the timer alone when off. */
  admission?: { p50: number; p99: number };
  gc: { minor: number; major: number; ms: number };
  /** A second pass reading involuntary context switches around each decide(): the share preempted, the p99 of the rest. */
  preempted: { share: number; p99Undisturbed: number };
  /** A pure arithmetic loop sized to the decision's median, timed alike: the tail this machine adds to any work that long. */
  control: { p50: number; p99: number };
  /** MB kept after warm-up and measurement (full GC before each reading). */
  memory: { heapMB: number; rssMB: number; typedArraysMB: number };
  /** The prefix index (replica): distinct block hashes, (hash, endpoint) entries, MB of its typed arrays. */
  index?: { keys: number; entries: number; typedArraysMB: number };
  /** The same structure at capacity: every endpoint holding as many distinct blocks as its KV cache has. */
  fullIndex?: { entries: number; typedArraysMB: number; buildMs: number };
  /**
   * Flow control's paired pass: decide p50 of alternate decisions with the idle admission and without it, in one
   * process; `null` is a third group, also without, taken in the same rotation: how far apart two groups come out
   * when nothing differs (the pairing's own noise, against which `with` − `without` is read); `floor` a fourth,
   * whose slot increments one counter of an object of its own: what touching anything at all per decision costs.
   */
  paired?: { with: number; without: number; null: number; floor: number };
}

const NOW = 1_800_000_000_000;
const noop = () => {};
/**
 * What must still be alive at the second memory reading. An async function keeps across an await only the
 * locals it still uses, so without this the scheduler (and its prefix index) would be collected before it
 * is measured.
 */
const retained: unknown[] = [];

/** Which endpoint slot each request went to, in order (typed arrays allocated up front: nothing here counts as the scheduler's memory). */
class Dispatches {
  readonly slot: Int32Array;
  readonly request: Int32Array;
  count = 0;

  constructor(size: number) {
    this.slot = new Int32Array(size);
    this.request = new Int32Array(size);
  }

  add(slot: number, request: number): void {
    this.slot[this.count] = slot;
    this.request[this.count++] = request;
  }
}
const MB = 1024 * 1024;

const controlData = new Float64Array(4096).map((_, i) => i * 0.5);
let controlSink = 0;
function controlWork(passes: number): void {
  let sum = 0;
  for (let k = 0; k < passes; k++) for (let i = 0; i < controlData.length; i++) sum += controlData[i]! * 1.0001;
  controlSink += sum;
}

function controlLoop(targetMicros: number, samples: number): { p50: number; p99: number } {
  const time = (passes: number) => {
    const t0 = process.hrtime.bigint();
    controlWork(passes);
    return Number(process.hrtime.bigint() - t0) / 1000;
  };
  // Calibrate on the loop as it will run (optimised, at this size).
  let passes = 1;
  for (let round = 0; round < 3; round++) {
    const median = Array.from({ length: 300 }, () => time(passes)).sort((a, b) => a - b)[150]!;
    passes = Math.max(1, Math.min(passes * 8, Math.round((passes * targetMicros) / Math.max(median, 0.05))));
  }
  const times = new Float64Array(samples);
  for (let r = 0; r < samples; r++) times[r] = time(passes);
  times.sort();
  if (controlSink === 0) console.error('unreachable');
  return { p50: percentile(times, 0.5), p99: percentile(times, 0.99) };
}

function fullGc(): void {
  const gc = (globalThis as { gc?: () => void }).gc;
  if (!gc) throw new Error('run with --expose-gc (bench/decision.ts does)');
  gc();
  gc();
}

/** The prefix index the scheduler built, rebuilt from the same dispatches: hashed as the prefix-cache scorer hashes. */
function replicaIndex(kernel: Kernel, dispatches: Dispatches, request: (r: number) => SchedulingRequest, capacity: number, maxBlocks: number) {
  const encoder = new TextEncoder();
  const index = new PrefixIndex();
  const input = kernel.input.subarray(0, maxBlocks * BLOCK_BYTES);
  const before = process.memoryUsage().arrayBuffers;
  for (let k = 0; k < dispatches.count; k++) {
    const req = request(dispatches.request[k]!);
    const modelLen = encoder.encodeInto(req.targetModel, kernel.model).written;
    const n = kernel.hashPrompt(modelLen, encoder.encodeInto(req.prompt, input).written, maxBlocks);
    index.record(dispatches.slot[k]!, kernel.hashes, n, capacity);
  }
  fullGc();
  return { ...index.totals, typedArraysMB: (process.memoryUsage().arrayBuffers - before) / MB };
}

/** An index where every endpoint holds `capacity` blocks no other holds: the most this pool's index can keep. */
function fullIndex(endpoints: number, capacity: number) {
  const index = new PrefixIndex();
  const hashes = new Uint32Array(2 * 1024);
  const before = process.memoryUsage().arrayBuffers;
  const t0 = performance.now();
  let next = 1;
  for (let slot = 0; slot < endpoints; slot++) {
    for (let held = 0; held < capacity; held += 1024) {
      const n = Math.min(1024, capacity - held);
      for (let j = 0; j < n; j++) {
        hashes[2 * j] = next;
        hashes[2 * j + 1] = Math.imul(next++, 0x9e3779b1);
      }
      index.record(slot, hashes, n, capacity);
    }
  }
  const buildMs = performance.now() - t0;
  fullGc();
  const result = { entries: index.totals.entries, typedArraysMB: (process.memoryUsage().arrayBuffers - before) / MB, buildMs };
  retained.push(index);
  return result;
}

export async function measure(args: MeasureArgs): Promise<DecisionResult> {
  const c: DecisionCase = caseByName(args.case) ?? (() => { throw new Error(`unknown case ${args.case}`); })();
  const { createScheduler } = (await import(args.index)) as { createScheduler: typeof CreateScheduler };
  const module = args.twin ? undefined : await loadKernelModule();
  const random = seeded(42);
  const scheduler = createScheduler({ kernel: module, now: () => NOW, random });
  const endpoints = makeEndpoints(c, NOW, random);
  const slotOf = new Map(endpoints.map((e, i) => [e.id, i]));
  const snapshot = { pool: 'bench', endpoints, at: NOW, hasMetrics: true };
  const pool: Pool = { name: 'bench', selector: {}, targetPorts: [8000], appProtocol: 'http', failureMode: 'FailClose' };
  // Flat strings, as JSON.parse gives the data path (a concatenation would be flattened, and counted, at its first use).
  const prompts = Array.from({ length: c.conversations }, (_, i) => JSON.parse(JSON.stringify(casePrompt(c, i))) as string);
  const request = (r: number): SchedulingRequest => ({
    requestId: `r${r}`, targetModel: r % 2 ? 'english-bot' : 'spanish-bot', requestedModel: 'chatbot',
    prompt: prompts[r % prompts.length]!, criticality: 'Standard', priority: 0, explain: false,
  });
  const requests = Array.from({ length: args.decisions }, (_, r) => request(r));
  // Flow control as LocalScheduling builds it, over the same snapshot; thresholds high enough that the pool always has room.
  const flow = args.flowControl
    ? // The snapshot never changes (a view that tells its changes, as the gateway's endpoint sources do); its metrics
      // stay fresh for an hour, read on the real clock as the gateway reads it.
      new FlowAdmission({ onChange: () => () => {} }, scheduler, () => snapshot, {
        flowControl: DEFAULT_FLOW_CONTROL,
        saturation: { ...DEFAULT_SATURATION, queueDepthThreshold: 1e9, kvCacheUtilThreshold: 1, metricsStalenessThreshold: 3_600_000 },
        maxConcurrency: args.maxConcurrency ?? 0,
        now: Date.now,
      })
    : undefined;
  const signal = { aborted: false, addEventListener: noop, removeEventListener: noop };
  /** One request through idle flow control, as the data path admits it: let through at once, then started. */
  const admitIdle = (f: FlowAdmission, req: SchedulingRequest) => {
    const admitted = f.admitThen(pool, req, req.prompt.length, signal, noop);
    if (!admitted || !('admitted' in admitted)) throw new Error('flow control held a request on an idle pool');
    admitted.admitted.started();
  };
  const slots = flow !== undefined || args.admissionSlots === true;
  const admissionTimes = new Float64Array(slots ? args.decisions : 0);
  const dispatches = new Dispatches(c.warmup + 2 * args.decisions);
  // The harness's own arrays exist before the first reading, and everything lives to the second.
  const times = new Float64Array(args.decisions);
  const dispatchTimes = new Float64Array(args.decisions);
  const bothTimes = new Float64Array(args.decisions);
  const undisturbed = new Float64Array(args.decisions);
  retained.push(scheduler, snapshot, requests, prompts, times, dispatchTimes, bothTimes, undisturbed);

  fullGc();
  const m0 = process.memoryUsage();
  for (let r = 0; r < c.warmup; r++) {
    const req = request(r);
    // The admission warms up with the rest (the measured loop's first calls would otherwise run it unoptimized), both
    // its ways: on credit, and a look at the pool (as after each change of a gateway's view; a new table is one).
    if (flow && r % 64 === 0) flow.tableApplied([pool]);
    if (flow) admitIdle(flow, req);
    const d = scheduler.decide(pool, snapshot, req);
    if (d.kind === 'route') {
      scheduler.dispatched(pool, d.endpoint, req);
      flow?.dispatched(pool, d.endpoint, req);
      scheduler.completed(pool, d.endpoint, req);
      dispatches.add(slotOf.get(d.endpoint.id)!, r);
    }
    flow?.wake(pool);
  }
  const gc = { minor: 0, major: 0, ms: 0 };
  let measuredUntil = Infinity;
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
  observer.observe({ entryTypes: ['gc'] });
  for (let r = 0; r < args.decisions; r++) {
    const req = requests[r]!;
    const t0 = process.hrtime.bigint();
    if (slots) {
      if (flow) admitIdle(flow, req);
      admissionTimes[r] = Number(process.hrtime.bigint() - t0) / 1000;
    }
    const d = scheduler.decide(pool, snapshot, req);
    const t1 = process.hrtime.bigint();
    if (d.kind !== 'route') throw new Error(`unexpected ${d.kind}`);
    // As LocalScheduling tells a dispatch: the picker, and flow control when on.
    scheduler.dispatched(pool, d.endpoint, req);
    flow?.dispatched(pool, d.endpoint, req);
    const t2 = process.hrtime.bigint();
    scheduler.completed(pool, d.endpoint, req);
    if (slots) {
      const t3 = process.hrtime.bigint();
      flow?.wake(pool);
      admissionTimes[r] += Number(process.hrtime.bigint() - t3) / 1000;
    }
    times[r] = Number(t1 - t0) / 1000;
    dispatchTimes[r] = Number(t2 - t1) / 1000;
    bothTimes[r] = Number(t2 - t0) / 1000;
    dispatches.add(slotOf.get(d.endpoint.id)!, r);
  }
  measuredUntil = performance.now();
  // The attribution pass (resourceUsage allocates, so it stays out of the headline loop).
  let kept = 0;
  for (let r = 0; r < args.decisions; r++) {
    const req = requests[r]!;
    const before = process.resourceUsage().involuntaryContextSwitches;
    const t0 = process.hrtime.bigint();
    const d = scheduler.decide(pool, snapshot, req);
    const t1 = process.hrtime.bigint();
    const after = process.resourceUsage().involuntaryContextSwitches;
    if (d.kind !== 'route') throw new Error(`unexpected ${d.kind}`);
    scheduler.dispatched(pool, d.endpoint, req);
    scheduler.completed(pool, d.endpoint, req);
    dispatches.add(slotOf.get(d.endpoint.id)!, r);
    if (after === before) undisturbed[kept++] = Number(t1 - t0) / 1000;
  }
  // Flow control's paired pass: in this one process, decisions in turn with the idle admission and without it
  // (an empty slot), so the groups share the process, its layout and the caches' state — a difference the runs'
  // process-to-process spread would hide shows here. A third group, also without, is the null: two groups that
  // differ in nothing come out this far apart. A fourth, the floor, increments one counter in the slot: the least any
  // admission that does anything per request could cost.
  let paired: DecisionResult['paired'];
  if (flow) {
    const quarter = Math.floor(args.decisions / 8) * 2;
    const groups = [new Float64Array(quarter), new Float64Array(quarter), new Float64Array(quarter), new Float64Array(quarter)];
    const filled = [0, 0, 0, 0];
    const counter = { n: 0 };
    for (let r = 0; r < 4 * quarter; r++) {
      const req = requests[r]!;
      // Two decisions a group in turn: each group gets both of the requests' alternating models and prompts.
      const g = (r >> 1) % 4;
      const on = g === 0;
      const t0 = process.hrtime.bigint();
      if (on) admitIdle(flow, req);
      else if (g === 3) counter.n++;
      const d = scheduler.decide(pool, snapshot, req);
      const t1 = process.hrtime.bigint();
      if (d.kind !== 'route') throw new Error(`unexpected ${d.kind}`);
      scheduler.dispatched(pool, d.endpoint, req);
      if (on) flow.dispatched(pool, d.endpoint, req);
      scheduler.completed(pool, d.endpoint, req);
      if (on) flow.wake(pool);
      groups[g]![filled[g]!++] = Number(t1 - t0) / 1000;
    }
    for (const g of groups) g.sort();
    paired = { with: percentile(groups[0]!, 0.5), without: percentile(groups[1]!, 0.5), null: percentile(groups[2]!, 0.5), floor: percentile(groups[3]!, 0.5) };
    retained.push(counter);
  }
  await new Promise((r) => setTimeout(r, 100)); // GC entries are delivered on a later turn of the event loop
  observer.disconnect();
  flow?.close();
  fullGc();
  const m1 = process.memoryUsage();
  times.sort();
  const control = controlLoop(percentile(times, 0.5), args.decisions);
  let index: DecisionResult['index'];
  if (args.replica) {
    const kernel = module ? instantiateKernel(module) : new TwinKernel();
    index = replicaIndex(kernel, dispatches, request, lruCapacity(endpoints[0]!, 0), args.maxBlocks);
  }
  const full = args.replica && args.fullIndex ? fullIndex(c.endpoints, lruCapacity(endpoints[0]!, 0)) : undefined;
  retained.length = 0;
  dispatchTimes.sort();
  bothTimes.sort();
  admissionTimes.sort();
  const calm = undisturbed.subarray(0, kept).sort();
  return {
    label: args.label,
    case: c.name,
    decide: { p50: percentile(times, 0.5), p90: percentile(times, 0.9), p99: percentile(times, 0.99), p999: percentile(times, 0.999) },
    dispatched: { p50: percentile(dispatchTimes, 0.5), p99: percentile(dispatchTimes, 0.99) },
    both: { p50: percentile(bothTimes, 0.5), p99: percentile(bothTimes, 0.99) },
    ...(slots ? { admission: { p50: percentile(admissionTimes, 0.5), p99: percentile(admissionTimes, 0.99) } } : {}),
    gc,
    preempted: { share: 1 - kept / args.decisions, p99Undisturbed: kept ? percentile(calm, 0.99) : NaN },
    control,
    memory: { heapMB: (m1.heapUsed - m0.heapUsed) / MB, rssMB: (m1.rss - m0.rss) / MB, typedArraysMB: (m1.arrayBuffers - m0.arrayBuffers) / MB },
    index,
    fullIndex: full,
    ...(paired ? { paired } : {}),
  };
}
