/**
 * Simulated-time mode of the precise-vs-approximate comparison: the pods'
 * KV caches put under pressure (fewer GPU blocks than the workload's working
 * set, so they evict), `shared-prefix` and the Mooncake conversation trace,
 * approximate and precise prefix routing with one and two gateway replicas.
 */
import type { EngineConfigOverrides } from '../../../src/sim/config.ts';
import { measureCapacity } from '../capacity.ts';
import { runSimulated } from '../sim-loop.ts';
import type { Strategy } from '../strategies/index.ts';
import { choosePods } from '../trace-run.ts';
import type { Workload, WorkloadParams } from '../types.ts';
import { loadTrace, traceWorkload } from '../workloads/trace.ts';
import { workloadByName } from '../workloads/index.ts';
import type { ComparisonRow } from './report.ts';

export interface PreciseSimOptions {
  seed: number;
  strategies: Strategy[];
  kernel?: WebAssembly.Module;
  /** GPU blocks per pod (16 tokens each): the pressure on shared-prefix. */
  numGpuBlocks: number;
  /** GPU blocks per pod for the trace (its pod count is chosen for the default engine, so keep it there: its prompts already overflow the caches). */
  traceGpuBlocks: number;
  levels: number[];
  durationMs: number;
  /** Trace replay: recorded time to replay from the start, ms. */
  traceSpanMs: number;
  traceSpeeds: number[];
  /** The conversation trace (a bare name is looked up in ../shared/traces beside the repository). */
  traceFile?: string;
  progress?: (line: string) => void;
}

export function pressured(w: Workload, engine: EngineConfigOverrides): Workload {
  return { ...w, pools: w.pools.map((p) => ({ ...p, engine: { ...p.engine, ...engine } })) };
}

export function sharedPrefixRows(o: PreciseSimOptions): ComparisonRow[] {
  const def = workloadByName('shared-prefix')!;
  const generate = (p: WorkloadParams) => pressured(def.generate(p), { numGpuBlocks: o.numGpuBlocks });
  const base: WorkloadParams = { seed: o.seed, rate: 1, durationMs: 60_000 };
  const cap = measureCapacity(generate, base);
  o.progress?.(`shared-prefix (numGpuBlocks ${o.numGpuBlocks}): capacity ${cap.total.toFixed(2)} req/s`);
  const rows: ComparisonRow[] = [];
  for (const level of o.levels) {
    const workload = generate({ ...base, durationMs: o.durationMs, rate: cap.total * level, poolRates: Object.fromEntries(Object.entries(cap.poolRates).map(([k, r]) => [k, r * level])), capacity: cap.total });
    for (const s of o.strategies) {
      const run = runSimulated(workload, s, { seed: o.seed, kernel: o.kernel });
      o.progress?.(`shared-prefix ${Math.round(level * 100)}% ${s.name}: hits ${(run.prefixHitRate * 100).toFixed(1)}%, ttft p99 ${run.ttft.p99.toFixed(0)} ms (${(run.wallMs / 1000).toFixed(1)} s)`);
      rows.push({ workload: 'shared-prefix', level: `${Math.round(level * 100)}%`, run });
    }
  }
  return rows;
}

export function conversationTraceRows(o: PreciseSimOptions): ComparisonRow[] {
  const file = 'conversation_trace.jsonl';
  const trace = loadTrace(o.traceFile ?? file, o.seed);
  const choice = choosePods(trace, { file, seed: o.seed, strategies: [], speeds: o.traceSpeeds, fromMs: 0, spanMs: o.traceSpanMs });
  o.progress?.(`${file}: ${choice.pods} pods (numGpuBlocks ${o.traceGpuBlocks})`);
  const rows: ComparisonRow[] = [];
  for (const speed of o.traceSpeeds) {
    const workload = pressured(traceWorkload(trace, { pods: choice.pods, speed, fromMs: 0, spanMs: o.traceSpanMs }), { numGpuBlocks: o.traceGpuBlocks });
    for (const s of o.strategies) {
      const run = runSimulated(workload, s, { seed: o.seed, kernel: o.kernel });
      o.progress?.(`${file} ${speed}× ${s.name}: hits ${(run.prefixHitRate * 100).toFixed(1)}%, ttft p99 ${run.ttft.p99.toFixed(0)} ms (${(run.wallMs / 1000).toFixed(1)} s)`);
      rows.push({ workload: `trace:${file} (${choice.pods} pods, ${o.traceGpuBlocks} blocks)`, level: `${speed}×`, run });
    }
  }
  return rows;
}
