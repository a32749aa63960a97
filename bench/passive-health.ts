/**
 * `npx tsx bench/passive-health.ts`: what passive health (src/scheduling/outliers.ts) costs a request. Flow
 * control's view and the picker's each look at the pool through `OutlierDetector.apply`, so a request pays it
 * twice. Per pool size, ns a look, side by side in one run:
 *
 * - no health record (nothing has failed: it returns at once);
 * - a failure seen (one endpoint's 5xx, not ejected) — the same endpoint list looked at again and again, as the
 *   agent hands one out until its next scrape;
 * - one endpoint ejected, the same list (the answer, a copy with it not ready, is kept while it holds);
 * - one endpoint ejected, a new list every look: the pass over the pool, the copy and keeping the answer, every
 *   time — the first look at each new snapshot (the agent makes one a scrape, every 50 ms by default), overstated:
 *   the kept answers of lists never seen again pile up in the WeakMap between collections. Every look cost about
 *   the pass and the copy before the answer was kept.
 *
 * Each figure is net of the loop's own work, timed alike without `apply`. Flags: --quick (fewer looks), --looks N.
 */
import { readFlags, runBench } from './lib/flags.ts';
import { median } from './lib/stats.ts';
import type { Endpoint, PoolSnapshot } from '../src/endpoints/types.ts';
import { OutlierDetector } from '../src/scheduling/outliers.ts';

await runBench(() => {
  const flags = readFlags();
  const looks = flags.number('looks', flags.quick ? 20_000 : 400_000);
  const endpoint = (i: number): Endpoint => ({ id: `10.0.${i >> 8}.${i & 255}:8000`, address: `10.0.${i >> 8}.${i & 255}`, port: 8000, labels: {}, ready: true, engine: 'vllm' });
  type Case = 'clean' | 'failure' | 'ejected' | 'ejected, new list';
  const cases: Case[] = ['clean', 'failure', 'ejected', 'ejected, new list'];
  /** ns a look, the median of 3 timed passes (after one untimed). */
  const measure = (n: number, c: Case): number => {
    const endpoints = Array.from({ length: n }, (_, i) => endpoint(i));
    const d = new OutlierDetector(() => 1_800_000_000_000);
    if (c === 'failure') d.observe(endpoints[1]!, { kind: 'status', status: 500 });
    if (c.startsWith('ejected')) d.observe(endpoints[1]!, { kind: 'connect-failure' });
    const fresh = c === 'ejected, new list';
    let ready = 0;
    const pass = (apply: boolean) => {
      const t0 = process.hrtime.bigint();
      for (let k = 0; k < looks; k++) {
        // A snapshot object per look, as the endpoint source makes them; its list is the agent's (or a new one).
        const snapshot: PoolSnapshot = { pool: 'p', endpoints: fresh ? endpoints.slice() : endpoints, at: 0, hasMetrics: true };
        ready += (apply ? d.apply(snapshot) : snapshot).endpoints[1]!.ready ? 1 : 0;
      }
      return Number(process.hrtime.bigint() - t0) / looks;
    };
    pass(true);
    // Net of the loop's own work (the snapshot object, and for a new list its copy), timed alike.
    const ns = median([pass(true), pass(true), pass(true)]) - median([pass(false), pass(false), pass(false)]);
    if (ready === -1) console.log('');
    return Math.max(0, ns);
  };
  console.log(`# passive health: OutlierDetector.apply, ns a look (${looks} looks a pass, median of 3; a request looks twice) — Node ${process.version}\n`);
  console.log(`| endpoints | ${cases.join(' | ')} |\n|---|${cases.map(() => '---|').join('')}`);
  for (const n of flags.quick ? [8, 256] : [8, 96, 256]) {
    console.log(`| ${n} | ${cases.map((c) => measure(n, c).toFixed(0)).join(' | ')} |`);
  }
  console.log('\nEach figure is net of the same loop without apply (the snapshot object, and for "new list" the copy of the list).');
});
