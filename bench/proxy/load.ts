/**
 * The load bench:proxy and bench/proxy/against.ts put on a proxy: wrk at
 * saturation (with the proxy's CPU a request from /proc), and the open-loop
 * fixed-rate generator (./fixed-rate.ts) in its own process.
 */
import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { cpuSeconds, type Started } from './setup.ts';

const root = new URL('../..', import.meta.url).pathname;

/** The non-streamed chat completion every proxy in these benchmarks is sent. */
export const BENCH_BODY = JSON.stringify({ model: 'llama', messages: [{ role: 'user', content: 'Say hello in one short sentence, please.' }], max_tokens: 16 });

/** A wrk script in `dir` that POSTs `body` as JSON (with `x-bench: header` when given); returns its path. */
export function wrkScript(dir: string, body: string, header?: string): string {
  const file = join(dir, `post-${Math.random().toString(36).slice(2)}.lua`);
  writeFileSync(file, `wrk.method = "POST"\nwrk.body = [[${body}]]\nwrk.headers["Content-Type"] = "application/json"\n${header ? `wrk.headers["x-bench"] = "${header}"\n` : ''}`);
  return file;
}

export interface Saturation {
  rps: number;
  /** CPU time the proxy's processes used per request, µs (NaN when not known): unlike req/s, it hardly moves when other processes share the cores. */
  cpuUs: number;
}

/** wrk -t1 -c32 for `seconds` against the chat path on `port`; an error answer throws. */
export function wrk(port: number, script: string, seconds: number, proxy?: Started): Saturation {
  const pids = proxy?.pids() ?? [];
  const cpu0 = cpuSeconds(pids);
  const out = execFileSync('wrk', ['-t1', '-c32', `-d${seconds}s`, '-s', script, `http://127.0.0.1:${port}/v1/chat/completions`], { encoding: 'utf8' });
  const cpu = cpuSeconds(pids) - cpu0;
  const m = /Requests\/sec:\s+([\d.]+)/.exec(out);
  const total = Number(/(\d+) requests in/.exec(out)?.[1] ?? 0);
  const non2xx = /Non-2xx or 3xx responses: (\d+)/.exec(out);
  if (non2xx) throw new Error(`wrk against ${port} saw ${non2xx[1]} error responses:\n${out}`);
  return { rps: Number(m?.[1] ?? 0), cpuUs: pids.length && total ? (1e6 * cpu) / total : NaN };
}

export interface Latency {
  p50: number;
  p99: number;
  errors: number;
  wire: { p50: number; p99: number };
  lateP99: number;
}

/** `rate` requests a second of `body` for `seconds`, open loop, from a separate process (./fixed-rate.ts). */
export function fixedRate(port: number, rate: number, seconds: number, body: string): Latency {
  const out = execFileSync(process.execPath, ['--import', 'tsx', join(root, 'bench/proxy/fixed-rate.ts'), `http://127.0.0.1:${port}/v1/chat/completions`, String(rate), String(seconds), body], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as Latency;
}
