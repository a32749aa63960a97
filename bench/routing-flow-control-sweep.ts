/**
 * How the routing benchmark's flow-control strategy was configured: the same
 * requests (simulated time, seed 1 unless --seed) through `infergate-flow-control` with its
 * pod-room limits changed — prompt tokens waiting for prefill per pod, and
 * requests in flight per pod — beside `infergate-default`, on noisy-neighbour
 * (the quiet tenants' p99 against their unloaded p99, the flooder's p99) or
 * priority-burst (Critical's and Standard's p99). Deterministic: the figures
 * do not depend on the machine. Results: docs/routing-benchmark.md, "What flow
 * control does on these workloads".
 *
 *   npx tsx bench/routing-flow-control-sweep.ts                      # noisy-neighbour at 80%
 *   npx tsx bench/routing-flow-control-sweep.ts --workload priority-burst --levels 1.1
 *   npx tsx bench/routing-flow-control-sweep.ts --settings 4096/768,1024/768,512/256
 *   npx tsx bench/routing-flow-control-sweep.ts --settings 4096/768 --isolation 0.5 --levels 0.5,0.8,0.95,1.1
 *   npx tsx bench/routing-flow-control-sweep.ts --seed 2                # other requests of the same shape
 */
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { failUsage, readFlags, runBench } from './lib/flags.ts';
import { runWorkloadSim } from './routing/run.ts';
import { FLOW_CONTROL_STRATEGIES, INFERGATE_DEFAULT, pickerStrategy, type Strategy } from './routing/strategies/index.ts';
import { workloadByName } from './routing/workloads/index.ts';
import { DEFAULT_ISOLATION } from '../src/flowcontrol/isolation.ts';

const SETTINGS = '4096/768,1024/768,512/256,256/128,4096/64,512/32';

await runBench(async () => {
  const flags = readFlags();
  const workload = flags.string('workload') ?? 'noisy-neighbour';
  if (workload !== 'noisy-neighbour' && workload !== 'priority-burst') failUsage(`--workload must be noisy-neighbour or priority-burst, not "${workload}"`);
  const def = workloadByName(workload)!;
  const levels = flags.numbers('levels') ?? [0.8];
  const seed = flags.numbers('seed')?.[0] ?? 1;
  const base = FLOW_CONTROL_STRATEGIES[0]!;
  const settings = (flags.list('settings') ?? SETTINGS.split(',')).map((s) => {
    const [tokens, inFlight] = s.split('/').map(Number);
    if (!Number.isInteger(tokens) || !Number.isInteger(inFlight) || tokens! < 1 || inFlight! < 1) failUsage(`--settings: "${s}" is not TOKENS/IN_FLIGHT, e.g. 4096/768`);
    return { tokens: tokens!, inFlight: inFlight! };
  });
  const strategies: Strategy[] = [
    pickerStrategy(INFERGATE_DEFAULT, undefined),
    ...settings.map(({ tokens, inFlight }) => ({ ...base, name: `flow control ${tokens}/${inFlight}`, flowControl: { ...base.flowControl!, maxPendingPrefillTokens: tokens, maxConcurrency: inFlight } })),
    // Flow isolation (src/flowcontrol/isolation.ts) on the strategy's own settings, one row per headroom.
    ...(flags.numbers('isolation') ?? []).map((headroom) => ({ ...base, name: `strategy + flow isolation, headroom ${headroom}`, flowControl: { ...base.flowControl!, config: { ...base.flowControl!.config, isolation: { ...DEFAULT_ISOLATION, headroom } } } })),
  ];
  const kernel = await loadKernelModule();
  const result = runWorkloadSim(def, { seed, durationMs: def.durationMs, levels, strategies, kernel, progress: (line) => console.error(line) });
  const ms = (n: number | undefined) => (n === undefined ? '—' : Math.round(n).toLocaleString('en-US').replace(/,/g, ' '));
  console.log(`# flow-control sweep — ${workload}, seed ${seed}, simulated time (strategy's setting: ${base.flowControl!.maxPendingPrefillTokens}/${base.flowControl!.maxConcurrency})\n`);
  console.log(workload === 'noisy-neighbour'
    ? '| load | strategy (prompt tokens waiting / in flight, per pod) | quiet p99 / alone (ms) | flooder p99 (ms) | all p99 (ms) | output tok/s |\n|---|---|---|---|---|---|'
    : '| load | strategy (prompt tokens waiting / in flight, per pod) | Critical p99 (ms) | Standard p99 (ms) | all p99 (ms) | Sheddable shed | output tok/s |\n|---|---|---|---|---|---|---|');
  for (const level of result.levels) {
    level.runs.forEach((m, i) => {
      const g = m.groups ?? {};
      const load = `${Math.round(level.level * 100)}%`;
      if (workload === 'noisy-neighbour') {
        const quiet = g.quiet?.ttft.p99;
        const alone = level.unloaded?.[i]?.groups?.quiet?.ttft.p99;
        const ratio = quiet !== undefined && alone ? ` = ${(quiet / alone).toFixed(2)}×` : '';
        console.log(`| ${load} | ${m.strategy} | ${ms(quiet)} / ${ms(alone)}${ratio} | ${ms(g['tenant-e']?.ttft.p99)} | ${ms(m.ttft.p99)} | ${ms(m.outputTokensPerS)} |`);
      } else {
        console.log(`| ${load} | ${m.strategy} | ${ms(g.Critical?.ttft.p99)} | ${ms(g.Standard?.ttft.p99)} | ${ms(m.ttft.p99)} | ${g.Sheddable?.lost ?? 0} | ${ms(m.outputTokensPerS)} |`);
      }
    });
  }
});
