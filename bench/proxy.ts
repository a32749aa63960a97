/**
 * `npm run bench:proxy`: what the gateway itself costs. Against an upstream
 * that answers at once, side by side in one run: the upstream called
 * directly, nginx as a plain reverse proxy, and infergate.
 *
 * - saturation: wrk -t1 -c32 (a separate process), requests/s;
 * - added latency: open-loop fixed rates (500 and 2000 req/s), p50/p99,
 *   minus the direct call's.
 *
 * Flags: --quick (short runs, one rate), --duration S.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { PORTS, nginxAvailable, startInfergate, startNginx, startNodeFloor } from './proxy/setup.ts';

const root = new URL('..', import.meta.url).pathname;
const quick = process.argv.includes('--quick');
const durationArg = process.argv.indexOf('--duration');
const seconds = durationArg > 0 ? Number(process.argv[durationArg + 1]) : quick ? 2 : 10;
const rates = quick ? [500] : [500, 2000];

const BODY = JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'Say hello in one short sentence, please.' }], max_tokens: 16 });
const SSE_BODY = JSON.stringify({ model: 'llama', stream: true, messages: [{ role: 'user', content: 'Say hello in one short sentence, please.' }], max_tokens: 16 });

if (!nginxAvailable()) {
  console.error('bench:proxy needs nginx and wrk on this machine: apt-get install -y nginx wrk');
  process.exit(quick ? 0 : 1);
}

const dir = mkdtempSync(join(tmpdir(), 'infergate-wrk-'));
const lua = (body: string, header?: string) => {
  const file = join(dir, `post-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(file, `wrk.method = "POST"\nwrk.body = [[${body}]]\nwrk.headers["Content-Type"] = "application/json"\n${header ? `wrk.headers["x-bench"] = "${header}"\n` : ''}`);
  return file;
};

function wrk(port: number, script: string): number {
  const out = execFileSync('wrk', ['-t1', '-c32', `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}/v1/chat/completions`], { encoding: 'utf8' });
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) throw new Error(`wrk against ${port} saw ${non2xx[1]} error responses:\n${out}`);
  return Number(m?.[1] ?? 0);
}

function fixedRate(port: number, rate: number, body: string): { p50: number; p99: number; errors: number } {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/proxy/fixed-rate.ts'), `http://127.0.0.1:${port}/v1/chat/completions`, String(rate), String(seconds), body], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!);
}

const nginx = await startNginx();
const infergate = await startInfergate(root);
const floor = await startNodeFloor(root);
try {
  // Warm up every path (JIT, connection pools) before measuring.
  for (const port of [PORTS.upstream, PORTS.nginx, PORTS.floor, PORTS.infergate]) fixedRate(port, 500, BODY);

  const jsonScript = lua(BODY);
  const sseScript = lua(SSE_BODY, 'sse');
  const sat = { direct: wrk(PORTS.upstream, jsonScript), nginx: wrk(PORTS.nginx, jsonScript), floor: wrk(PORTS.floor, jsonScript), infergate: wrk(PORTS.infergate, jsonScript) };
  const satSse = { direct: wrk(PORTS.sse, sseScript), infergate: wrk(PORTS.infergate, sseScript) };

  const latency = rates.map((rate) => ({
    rate,
    direct: fixedRate(PORTS.upstream, rate, BODY),
    nginx: fixedRate(PORTS.nginx, rate, BODY),
    infergate: fixedRate(PORTS.infergate, rate, BODY),
  }));

  const f = (n: number) => n.toFixed(0);
  const ms = (n: number) => n.toFixed(2);
  console.log(`# bench:proxy — ${new Date().toISOString().slice(0, 10)}, ${cpus().length} cores (${cpus()[0]?.model}), Node ${process.version}, ${seconds} s per run${quick ? ' (quick)' : ''}\n`);
  console.log('## Saturation (wrk -t1 -c32), non-streaming chat completion\n');
  console.log('| path | req/s | share of nginx |\n|---|---|---|');
  console.log(`| upstream directly | ${f(sat.direct)} | — |`);
  console.log(`| nginx reverse proxy | ${f(sat.nginx)} | 100% |`);
  console.log(`| bare node:http proxy (bench/proxy/node-floor.ts) | ${f(sat.floor)} | ${((100 * sat.floor) / sat.nginx).toFixed(0)}% |`);
  console.log(`| infergate | ${f(sat.infergate)} | ${((100 * sat.infergate) / sat.nginx).toFixed(0)}% |`);
  console.log(`\ninfergate's own cost above the node:http floor: ${(1e6 / sat.infergate - 1e6 / sat.floor).toFixed(0)} µs per request.`);
  console.log(`\nStreaming (7-chunk SSE): upstream ${f(satSse.direct)} req/s, infergate ${f(satSse.infergate)} req/s.\n`);
  console.log('## Added latency at fixed rates (open loop, ms)\n');
  console.log('| rate | direct p50 / p99 | nginx p50 / p99 | infergate p50 / p99 | infergate added p50 / p99 |\n|---|---|---|---|---|');
  for (const l of latency) {
    console.log(
      `| ${l.rate}/s | ${ms(l.direct.p50)} / ${ms(l.direct.p99)} | ${ms(l.nginx.p50)} / ${ms(l.nginx.p99)} | ${ms(l.infergate.p50)} / ${ms(l.infergate.p99)} | ${ms(l.infergate.p50 - l.direct.p50)} / ${ms(l.infergate.p99 - l.direct.p99)} |`,
    );
    const errs = l.direct.errors + l.nginx.errors + l.infergate.errors;
    if (errs) throw new Error(`${errs} requests failed at ${l.rate}/s`);
  }
} finally {
  await floor.close();
  await infergate.close();
  await nginx.close();
}
