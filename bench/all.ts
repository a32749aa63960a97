/**
 * `npm run bench`: every benchmark, one after the other, each in its own
 * process; `--quick` makes each one short (a smoke check that npm test runs
 * so the benchmarks cannot rot). Exits non-zero if any of them fails.
 */
import { spawnSync } from 'node:child_process';

const quick = process.argv.includes('--quick');
/** Every benchmark in bench/ (helpers live in bench/lib/ and the benchmarks' own folders). */
const benches: { name: string; script: string; args?: string[] }[] = [
  { name: 'kernel (WASM vs TypeScript twin)', script: 'bench/kernel.ts' },
  { name: 'scheduling decision', script: 'bench/decision.ts' },
  { name: 'metrics parsing', script: 'bench/metrics-parse.ts' },
  { name: 'agent scraping', script: 'bench/agent-scrape.ts' },
  { name: 'passive health (outlier ejection) a request', script: 'bench/passive-health.ts' },
  { name: 'simulator engine on a simulated clock', script: 'bench/sim-engine.ts' },
  { name: 'simulator throughput (HTTP)', script: 'bench/sim-throughput.ts' },
  { name: 'gateway overhead (vs nginx)', script: 'bench/proxy.ts' },
  { name: 'observability overhead (access log, tracing)', script: 'bench/proxy/observability-overhead.ts' },
  { name: 'routing quality', script: 'bench/routing.ts' },
  // Precise prefix routing (issue 18).
  { name: 'precise decision (240k tokens × 96 pods)', script: 'bench/decision-precise.ts' },
  { name: 'KV index to the gateways (stream vs lookup)', script: 'bench/kv-index-watch.ts' },
  { name: 'precise vs approximate routing', script: 'bench/routing-precise.ts', args: ['--workload', 'shared-prefix'] },
];

const failed: string[] = [];
const started = Date.now();
for (const b of benches) {
  const t0 = Date.now();
  console.log(`\n=== ${b.name}: tsx ${b.script}${quick ? ' --quick' : ''}\n`);
  const r = spawnSync(process.execPath, ['--import', 'tsx', b.script, ...(quick ? ['--quick'] : []), ...(b.args ?? [])], {
    stdio: 'inherit',
    env: { ...process.env, INFERGATE_BENCH_QUICK: quick ? '1' : '' },
  });
  const seconds = ((Date.now() - t0) / 1000).toFixed(1);
  if (r.status !== 0) failed.push(`${b.name} (exit ${r.status ?? r.signal})`);
  console.log(`\n=== ${b.name}: ${r.status === 0 ? 'done' : 'FAILED'} in ${seconds} s`);
}
console.log(`\nall benchmarks: ${((Date.now() - started) / 1000).toFixed(1)} s${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
process.exitCode = failed.length ? 1 : 0;
