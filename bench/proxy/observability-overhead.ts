/**
 * What observability costs on the proxy path, measured like bench:proxy's
 * saturation run (wrk -t1 -c32 against a fixed nginx answer, one gateway
 * process): a gateway from another checkout as the baseline (`--base DIR`,
 * e.g. the main branch), then this one with the access log off and tracing
 * off, with the access log on (stdout, discarded), and with tracing on and
 * every request sampled (spans exported over OTLP/HTTP to a local sink that
 * accepts and drops them). Rounds alternate the order; the better run of each
 * is kept, and the per-request cost is 1e6/rps differences.
 *
 * `--without-metrics` makes the baseline from this checkout: a git worktree of
 * HEAD with ./without-metrics.patch applied (the metrics observer out of the
 * request path, no plugin timings), sharing this checkout's node_modules and
 * generated files — what the Prometheus metrics cost a request, side by side.
 *
 * Usage: tsx bench/proxy/observability-overhead.ts [--base DIR | --without-metrics] [--duration S] [--rounds N] [--quick]
 * (--quick: 1 s runs, one round — the smoke run `npm test` makes).
 */
import { execFileSync } from 'node:child_process';
import http from 'node:http';
import { cpSync, mkdtempSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { cpuSeconds, PORTS, nginxAvailable, startInfergate, startNginx, type Started } from './setup.ts';

const root = new URL('../..', import.meta.url).pathname;
const arg = (name: string) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : undefined;
};
const withoutMetrics = process.argv.includes('--without-metrics');
const quick = process.argv.includes('--quick');
const seconds = Number(arg('duration') ?? (quick ? 1 : 8));
const rounds = Number(arg('rounds') ?? (quick ? 1 : 2));

// Ports apart from bench:proxy's (another run of it may be going on on a shared machine).
for (const k of Object.keys(PORTS) as (keyof typeof PORTS)[]) PORTS[k] += 200;

if (!nginxAvailable()) {
  console.error('needs nginx (with its HTTP/2 module, as Debian builds it) and wrk: apt-get install -y nginx-light wrk');
  process.exit(quick ? 0 : 1);
}

/** A worktree of HEAD with the metrics observer patched out, sharing this checkout's packages and generated files. */
function withoutMetricsCheckout(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'infergate-without-metrics-'));
  execFileSync('git', ['-C', root, 'worktree', 'add', '--detach', '--force', dir, 'HEAD'], { stdio: 'ignore' });
  const remove = () => execFileSync('git', ['-C', root, 'worktree', 'remove', '--force', dir], { stdio: 'ignore' });
  try {
    execFileSync('git', ['-C', dir, 'apply', join(root, 'bench/proxy/without-metrics.patch')]);
    symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'));
    for (const generated of ['build', 'src/gen']) cpSync(join(root, generated), join(dir, generated), { recursive: true });
  } catch (err) {
    remove();
    throw new Error(`--without-metrics: cannot prepare the baseline (${(err as Error).message.split('\n')[0]}); does the patch still apply to HEAD?`);
  }
  return { dir, remove };
}
if (withoutMetrics && execFileSync('git', ['-C', root, 'status', '--porcelain', '--untracked-files=no'], { encoding: 'utf8' }).trim()) {
  console.error('--without-metrics: the baseline is HEAD with the patch, but this checkout has uncommitted changes: commit them first, or the two differ by more than the metrics.');
  process.exit(1);
}
const patched = withoutMetrics ? withoutMetricsCheckout() : undefined;
// The worktree goes however the run ends: an error before the measurements' `finally`, or Ctrl-C.
process.once('exit', () => {
  try {
    patched?.remove();
  } catch {
    // already removed
  }
});
process.once('SIGINT', () => process.exit(130));
const base = patched?.dir ?? arg('base');

const dir = mkdtempSync(join(tmpdir(), 'infergate-obs-bench-'));
const script = join(dir, 'post.lua');
writeFileSync(script, `wrk.method = "POST"\nwrk.body = [[${JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'Say hello in one short sentence, please.' }], max_tokens: 16 })}]]\nwrk.headers["Content-Type"] = "application/json"\n`);

/** Requests/s, and the gateway's CPU µs per request (steadier than req/s on a shared machine). */
function wrk(port: number, pids: () => number[]): { rps: number; cpuUs: number } {
  const before = cpuSeconds(pids());
  const out = execFileSync('wrk', ['-t1', '-c32', `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}/v1/chat/completions`], { encoding: 'utf8' });
  const cpu = cpuSeconds(pids()) - before;
  const requests = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  // A few 503s while a loaded machine delays the scrapes past the staleness limit are the machine's, not the gateway's.
  const failed = Number(/Non-2xx or 3xx responses: (\d+)/.exec(out)?.[1] ?? 0);
  if (failed > requests / 100) throw new Error(out);
  return { rps: Number(/Requests\/sec:\s+([\d.]+)/.exec(out)?.[1] ?? 0), cpuUs: (1e6 * cpu) / requests };
}

// An OTLP/HTTP sink: reads each export and answers 200.
const sink = http.createServer((req, res) => {
  req.resume();
  req.on('end', () => res.end('{}'));
});
await new Promise<void>((r) => sink.listen(0, '127.0.0.1', r));
let exports = 0;
sink.on('request', () => exports++);
const otlp = `http://127.0.0.1:${(sink.address() as { port: number }).port}`;

interface Variant {
  key: string;
  label: string;
  root: string;
  args: string[];
  env?: Record<string, string>;
}
const common: string[] = [];
const variants: Variant[] = [
  ...(base ? [{ key: 'base', label: patched ? 'this checkout without the metrics observer (without-metrics.patch), access log off, tracing off' : `baseline (${base})`, root: base, args: patched ? [...common, '--access-log', 'off'] : common }] : []),
  { key: 'off', label: 'access log off, tracing off', root, args: [...common, '--access-log', 'off'] },
  { key: 'log', label: 'access log to stdout (discarded), tracing off', root, args: [...common, '--access-log', 'stdout'] },
  { key: 'trace', label: 'access log off, tracing on (always_on, OTLP/HTTP protobuf)', root, args: [...common, '--access-log', 'off'], env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp, OTEL_TRACES_SAMPLER: 'always_on' } },
];

const started: Started[] = [await startNginx()];
const best: Record<string, number> = {};
const cpu: Record<string, number[]> = {};
try {
  for (let round = 0; round < rounds; round++) {
    const order = round % 2 === 0 ? variants : [...variants].reverse();
    for (const v of order) {
      const saved = { ...process.env };
      Object.assign(process.env, v.env ?? {});
      const gw = await startInfergate(v.root, { args: v.args, port: PORTS.infergate });
      process.env = saved;
      try {
        // Ready once its agent has scraped the upstream (a request before that is a 503).
        for (let i = 0; i < 100 && (await fetch(`http://127.0.0.1:${PORTS.infergate}/readyz`)).status !== 200; i++) await new Promise((r) => setTimeout(r, 50));
        if (!quick) wrk(PORTS.infergate, gw.pids); // warm-up run, not counted
        const run = wrk(PORTS.infergate, gw.pids);
        best[v.key] = Math.max(best[v.key] ?? 0, run.rps);
        (cpu[v.key] ??= []).push(run.cpuUs);
      } finally {
        await gw.close();
      }
    }
  }
} finally {
  for (const s of started) await s.close();
  sink.close();
}
const ref = best.base ?? best.off!;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const cpuRef = median(cpu.base ?? cpu.off!);
console.log(`# observability overhead — ${new Date().toISOString().slice(0, 10)}, wrk -t1 -c32 ${seconds} s, ${rounds} rounds\n`);
console.log('| gateway | req/s (best) | µs per request vs the first row, from req/s | gateway CPU µs per request (median) | CPU µs vs the first row |\n|---|---|---|---|---|');
for (const v of variants) {
  const c = median(cpu[v.key]!);
  console.log(`| ${v.label} | ${best[v.key]!.toFixed(0)} | ${(1e6 / best[v.key]! - 1e6 / ref).toFixed(1)} | ${c.toFixed(1)} | ${(c - cpuRef).toFixed(1)} |`);
}
console.log(`\nOTLP exports received by the sink: ${exports}`);
