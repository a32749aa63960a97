/**
 * Precise (KV events) against approximate prefix routing, issue 18 — a
 * separate entry point beside bench/routing.ts, reusing its workloads,
 * simulated-time loop and load generator.
 *
 *   npx tsx bench/routing-precise.ts [--mode sim|e2e] [--quick] [--seed N] [--blocks N]
 *        [--levels 0.8,0.95] [--duration S] [--trace-blocks N] [--trace-minutes M] [--speeds 1,1.5] [--runs NAME,…] [--workload shared-prefix|trace|all] [--out FILE]
 *        [--trace-file PATH] (default: conversation_trace.jsonl in ../shared/traces beside the repository)
 *
 * sim: shared-prefix and the Mooncake conversation trace with the pods' caches
 * under pressure (--blocks GPU blocks per pod), infergate-default and
 * infergate-precise, one and two gateway replicas (round-robin front).
 * e2e: real processes — pods publishing KV events over ZeroMQ, an agent, one
 * or two gateways behind a round-robin front (bench/routing/precise/e2e.ts).
 */
import { writeFileSync } from 'node:fs';
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { comparisonStrategies } from './routing/precise/strategies.ts';
import { comparisonTable, type ComparisonRow } from './routing/precise/report.ts';
import { conversationTraceRows, sharedPrefixRows } from './routing/precise/sim.ts';

const args = process.argv.slice(2);
const flag = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const quick = args.includes('--quick');
const mode = flag('mode') ?? 'sim';
const seed = Number(flag('seed') ?? 1);
const which = flag('workload') ?? 'all';
const levels = (flag('levels') ?? (quick ? '0.8' : '0.8,0.95')).split(',').map(Number);
const started = performance.now();
const progress = (line: string) => console.error(line);
let rows: ComparisonRow[] = [];
let notes = '';
if (mode === 'sim') {
  const kernel = await loadKernelModule().catch(() => undefined);
  const options = {
    seed, kernel, levels, progress,
    strategies: comparisonStrategies(),
    numGpuBlocks: Number(flag('blocks') ?? 8000),
    traceGpuBlocks: Number(flag('trace-blocks') ?? 28_800),
    durationMs: Number(flag('duration') ?? (quick ? 30 : 120)) * 1000,
    traceSpanMs: Number(flag('trace-minutes') ?? (quick ? 10 : 30)) * 60_000,
    traceFile: flag('trace-file'),
    traceSpeeds: (flag('speeds') ?? (quick ? '1' : '1,1.5')).split(',').map(Number),
  };
  if (which === 'all' || which === 'shared-prefix') rows.push(...sharedPrefixRows(options));
  if (which === 'all' || which === 'trace') rows.push(...conversationTraceRows(options));
  notes = `simulated time; shared-prefix with ${options.numGpuBlocks} GPU blocks (16 tokens) per pod, the trace's first ${options.traceSpanMs / 60_000} minutes with ${options.traceGpuBlocks}; KV events reach the index 10 ms (simulated) after the engine step that caused them; ×2 = two gateway replicas, requests alternating between them`;
} else if (mode === 'e2e') {
  const { runPreciseE2E } = await import('./routing/precise/e2e.ts');
  const r = await runPreciseE2E({ seed, quick, levels, progress, numGpuBlocks: Number(flag('blocks') ?? 8000), durationMs: flag('duration') ? Number(flag('duration')) * 1000 : undefined, timeScale: flag('time-scale') ? Number(flag('time-scale')) : undefined, which, only: flag('runs')?.split(',') });
  rows = r.rows;
  notes = r.notes;
} else {
  console.error(`--mode must be sim or e2e, not "${mode}"`);
  process.exit(2);
}
const md = [`### Precise vs approximate prefix routing — ${mode === 'sim' ? 'simulated time' : 'end to end'} (preliminary, shared machine)`, '', `\`npx tsx bench/routing-precise.ts ${args.join(' ')}\` · seed ${seed} · ${((performance.now() - started) / 1000).toFixed(0)} s wall · ${notes}`, '', comparisonTable(rows), ''].join('\n');
const out = flag('out');
if (out) writeFileSync(out, md);
console.log(md);
