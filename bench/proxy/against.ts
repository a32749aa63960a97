/**
 * This checkout's gateway against another checkout's, side by side in one
 * run: both start (one Node process each, access log off) in front of the
 * same nginx upstream, and each round measures them in alternating order —
 * saturation (wrk -t1 -c32) and the added latency at a fixed rate (open loop,
 * `fixed-rate.ts`, p50 counted from the write, minus the direct call's
 * measured just before). For a change whose effect is smaller than the
 * machine's drift between two bench:proxy runs.
 *
 *   npx tsx bench/proxy/against.ts --base DIR [--rounds 6] [--seconds 6] [--rate 2000] [--only saturation|latency]
 *
 * DIR is a built checkout, e.g. the commit before a change:
 *   git worktree add /tmp/base HEAD~1 && ln -s "$PWD/node_modules" /tmp/base/ && (cd /tmp/base && npm run build)
 */
import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readFlags, runBench, UsageError } from '../lib/flags.ts';
import { median } from '../lib/stats.ts';
import { BENCH_BODY, fixedRate, wrk, wrkScript } from './load.ts';
import { PORTS, nginxAvailable, startInfergate, startNginx, type Started } from './setup.ts';

const root = new URL('../..', import.meta.url).pathname;

await runBench(async () => {
  const flags = readFlags();
  const base = flags.string('base');
  if (!base) throw new UsageError('--base DIR is needed: a built checkout to compare against (see the header of bench/proxy/against.ts)');
  if (!existsSync(join(base, 'bin/infergate.js')) || !existsSync(join(base, 'build'))) throw new UsageError(`${base} is not a built checkout (bin/infergate.js and build/ are needed: run npm run build there)`);
  const rounds = flags.number('rounds', 6);
  const seconds = flags.number('seconds', 6);
  const rate = flags.number('rate', 2000);
  const only = flags.string('only');
  if (only !== undefined && only !== 'saturation' && only !== 'latency') throw new UsageError('--only takes saturation or latency');
  if (!nginxAvailable()) throw new UsageError('this benchmark needs nginx and wrk: apt-get install -y nginx-light wrk');

  const script = wrkScript(mkdtempSync(join(tmpdir(), 'infergate-against-')), BENCH_BODY);
  const saturation = (port: number, proc: Started) => wrk(port, script, seconds, proc);
  const wireP50 = (port: number): number => {
    const r = fixedRate(port, rate, seconds, BENCH_BODY);
    if (r.errors) throw new Error(`${r.errors} requests to ${port} failed at ${rate}/s`);
    return r.wire.p50;
  };

  const nginx = await startNginx();
  const gateways: { name: string; port: number; proc: Started; rps: number[]; cpu: number[]; added: number[] }[] = [];
  try {
    for (const [name, dirOf, port] of [['base', base, 19120], ['this', root, 19121]] as const) {
      gateways.push({ name, port, proc: await startInfergate(dirOf, { port, args: ['--access-log', 'off'] }), rps: [], cpu: [], added: [] });
    }
    for (const g of gateways) {
      if (only !== 'latency') saturation(g.port, g.proc); // warm-up
      if (only !== 'saturation') wireP50(g.port);
    }
    for (let i = 0; i < rounds; i++) {
      for (const g of i % 2 ? [...gateways].reverse() : gateways) {
        let line = `round ${i + 1} ${g.name.padEnd(4)}`;
        if (only !== 'latency') {
          const s = saturation(g.port, g.proc);
          g.rps.push(s.rps);
          g.cpu.push(s.cpuUs);
          line += ` | ${s.rps.toFixed(0)} req/s, ${s.cpuUs.toFixed(1)} µs CPU a request`;
        }
        if (only !== 'saturation') {
          const direct = wireP50(PORTS.upstream);
          const added = wireP50(g.port) - direct;
          g.added.push(added);
          line += ` | added p50 at ${rate}/s ${added.toFixed(3)} ms`;
        }
        console.log(line);
      }
    }
  } finally {
    for (const g of gateways) await g.proc.close();
    await nginx.close();
  }
  const range = (xs: number[], digits: number) => `${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)}`;
  console.log(`\nmedian of ${rounds} alternating rounds (base: ${base}):`);
  for (const g of gateways) {
    const parts = [g.name.padEnd(4)];
    if (g.rps.length) parts.push(`${median(g.rps).toFixed(0)} req/s (${range(g.rps, 0)}), ${median(g.cpu).toFixed(1)} µs CPU a request`);
    if (g.added.length) parts.push(`added p50 at ${rate}/s ${median(g.added).toFixed(3)} ms (${range(g.added, 3)})`);
    console.log(parts.join(' | '));
  }
});
