/**
 * The routing-quality benchmark (issue 6) and trace replay (issue 8).
 *
 *   npx tsx bench/routing.ts [--workload NAME[,NAME…]|all|traces|trace:FILE] [--mode sim|e2e] [--quick]
 *                            [--seed N] [--out docs/FILE.md] [--json FILE] [--strategies a,b] [--levels 0.5,0.8]
 *                            [--speed 1,1.5] [--pods N] [--duration SECONDS] [--from-json FILE] [--time-scale T]
 *                            [--pod-processes N]
 *
 * Workloads (`all`, the default, is every one): multi-model, multi-lora, shared-prefix, mixed-criticality
 * (issue 6); agent, document-qa (issue 19); priority-burst, noisy-neighbour (issue 17); and trace:<file>
 * for a file in ../shared/traces (`traces`: all four). See docs/routing-benchmark.md.
 */
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { failUsage, readFlags, runBench } from './lib/flags.ts';
import { ttftChart } from './routing/chart.ts';
import { checkTargets, rankTable, resultTable, targetTable, type TargetCheck } from './routing/report.ts';
import { firstPlaceTable, flowControlTargets, groupTable, unloadedTable } from './routing/report-groups.ts';
import { LEVELS, runWorkloadSim, type WorkloadResult } from './routing/run.ts';
import { STRATEGIES, strategyByName } from './routing/strategies/index.ts';
import { runTraceSim } from './routing/trace-run.ts';
import { WORKLOADS, workloadByName } from './routing/workloads/index.ts';

const TRACES = ['conversation_trace.jsonl', 'synthetic_trace.jsonl', 'AzureLLMInferenceTrace_code.csv', 'AzureLLMInferenceTrace_conv.csv'];
/** --quick runs the two levels the targets are set at, on shorter workloads (a workload may name its one quick level instead). */
const QUICK_LEVELS = [0.8, 0.95];
/** Workloads the issue sets targets on. */
const TARGETED = new Set(['multi-lora', 'shared-prefix', 'mixed-criticality']);

async function main(): Promise<void> {
  const flags = readFlags();
  const quick = flags.quick;
  const seed = flags.number('seed', 1);
  const mode = flags.string('mode') ?? 'sim';
  const out = flags.string('out');
  const names = (flags.list('workload') ?? ['all']).flatMap((n) => (n === 'all' ? WORKLOADS.map((w) => w.name) : n === 'traces' ? TRACES.map((t) => `trace:${t}`) : [n]));
  const wanted = flags.list('strategies');
  const strategies = wanted ? wanted.map((n) => strategyByName(n) ?? fail(`unknown strategy "${n}" (known: ${STRATEGIES.map((s) => s.name).join(', ')})`)) : STRATEGIES;
  const pods = flags.optionalNumber('pods');
  const kernel = await loadKernelModule().catch((err: unknown) => {
    console.error(`kernel: ${(err as Error).message}; using the TypeScript twin (run npm run build:kernel)`);
    return undefined;
  });
  const progress = (line: string) => console.error(line);
  const started = performance.now();
  const results: WorkloadResult[] = [];
  const fromJson = flags.string('from-json');
  if (fromJson) {
    // Re-render a previous run's results (e.g. after a report change) without running anything.
    results.push(...(JSON.parse(readFileSync(fromJson, 'utf8')) as { results: WorkloadResult[] }).results);
  } else if (mode === 'e2e') {
    const { runE2E } = await import('./routing/e2e.ts');
    const duration = flags.optionalNumber('duration');
    const durationMs = duration !== undefined ? duration * 1000 : undefined;
    const timeScale = flags.optionalNumber('time-scale');
    const podProcesses = flags.optionalNumber('pod-processes');
    for (const name of names) results.push(await runE2E(name, { seed, quick, strategies, levels: flags.numbers('levels'), pods, progress, durationMs, timeScale, podProcesses }));
  } else if (mode !== 'sim') {
    fail(`--mode must be sim or e2e, not "${mode}"`);
  } else {
    for (const name of names) {
      if (name.startsWith('trace:')) {
        const file = name.slice('trace:'.length);
        const speeds = flags.numbers('speed') ?? (quick ? [1] : [1, 1.5]);
        const slice = quick ? { fromMs: 0, spanMs: 5 * 60_000 } : {};
        results.push(runTraceSim({ file, seed, strategies, kernel, pods, progress, speeds, ...slice }));
        continue;
      }
      const def = workloadByName(name) ?? fail(`unknown workload "${name}" (known: ${WORKLOADS.map((w) => w.name).join(', ')}, trace:<file>)`);
      const duration = flags.number('duration', (quick ? def.quickDurationMs : def.durationMs) / 1000) * 1000;
      const levels = flags.numbers('levels') ?? (quick ? (def.quickLevel !== undefined ? [def.quickLevel] : QUICK_LEVELS) : LEVELS);
      results.push(runWorkloadSim(def, { seed, durationMs: duration, levels, strategies, kernel, pods, progress }));
    }
  }
  const wall = (performance.now() - started) / 1000;
  const checks: TargetCheck[] = results.filter((r) => TARGETED.has(r.workload)).flatMap((r) => checkTargets(r));
  const flow = flowControlTargets(results);
  const command = `npx tsx bench/routing.ts ${process.argv.slice(2).join(' ')}`.trim();
  const md = [
    `## Routing quality — ${mode === 'sim' ? 'simulated time' : 'end to end'}`,
    '',
    `\`${command}\` · seed ${seed} · ${wall.toFixed(0)} s wall`,
    '',
    ...results.flatMap((r) => {
      const groups = groupTable(r);
      const unloaded = unloadedTable(r);
      return [
        resultTable(r),
        '',
        ...(groups ? [`#### ${r.workload}: per group`, '', groups, ''] : []),
        ...(unloaded ? [`#### ${r.workload}: under load against alone (the same requests without the traffic that loads them)`, '', unloaded, ''] : []),
        ...(r.simulated ? [`#### ${r.workload}: ranking, end to end vs simulated time on the same requests`, '', rankTable({ ...r, mode: 'sim', levels: r.simulated }, r), ''] : []),
      ];
    }),
    ...(checks.length ? ['### Targets (infergate-default, issue 6)', '', targetTable(checks), ''] : []),
    ...(flow ? ['### Flow control (issue 17)', '', flow, ''] : []),
    '### Is infergate-default first? (lowest p99 TTFT, issue 19)',
    '',
    firstPlaceTable(results),
    '',
  ].join('\n');
  if (out) {
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, md);
    const charts = join(dirname(out), 'charts');
    mkdirSync(charts, { recursive: true });
    for (const r of results) {
      const file = join(charts, `routing-${mode}-${r.workload.replace(/^trace:/, 'trace-').replace(/\.\w+$/, '').replace(/[^\w-]+/g, '-')}.svg`);
      writeFileSync(file, ttftChart(r));
      console.error(`wrote ${file}`);
    }
    console.error(`wrote ${out}`);
  } else {
    console.log(md);
  }
  const json = flags.string('json');
  if (json) writeFileSync(json, JSON.stringify({ command, seed, mode, wallS: wall, results, checks }, null, 1));
  console.error(`done in ${wall.toFixed(1)} s`);
}

const fail = failUsage;

await runBench(main);
