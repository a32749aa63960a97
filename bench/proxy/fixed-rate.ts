/**
 * Open-loop load at a fixed rate (a separate process from what it measures).
 * Latency counts from when each request was due, not when it was sent, so a
 * stalled target cannot hide its queueing (no coordinated omission).
 *
 *   tsx bench/proxy/fixed-rate.ts URL RATE SECONDS BODY_JSON [HEADER=VALUE...]
 * Prints one JSON line: { sent, ok, errors, p50, p90, p99, max } (ms).
 */
import { Pool } from 'undici';

const [url, rateArg, secondsArg, body, ...headerArgs] = process.argv.slice(2);
const rate = Number(rateArg);
const seconds = Number(secondsArg);
const target = new URL(url!);
const headers: Record<string, string> = { 'content-type': 'application/json' };
for (const h of headerArgs) {
  const i = h.indexOf('=');
  headers[h.slice(0, i)] = h.slice(i + 1);
}
const pool = new Pool(target.origin, { connections: 128, pipelining: 1 });
const total = Math.round(rate * seconds);
const latencies = new Float64Array(total);
let done = 0;
let ok = 0;
let errors = 0;
const start = performance.now() + 50;

await new Promise<void>((resolve) => {
  let next = 0;
  const tick = () => {
    const now = performance.now();
    while (next < total && start + (next * 1000) / rate <= now) {
      const i = next++;
      const due = start + (i * 1000) / rate;
      pool
        .request({ method: 'POST', path: target.pathname, headers, body })
        .then(async (res) => {
          await res.body.dump();
          if (res.statusCode === 200) ok++;
          else errors++;
        })
        .catch(() => errors++)
        .finally(() => {
          latencies[i] = performance.now() - due;
          if (++done === total) resolve();
        });
    }
    if (next < total) setTimeout(tick, Math.max(0, start + (next * 1000) / rate - performance.now()));
  };
  tick();
});
await pool.close();
const sorted = Array.from(latencies).sort((a, b) => a - b);
const q = (p: number) => Number(sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))]!.toFixed(3));
console.log(JSON.stringify({ sent: total, ok, errors, p50: q(0.5), p90: q(0.9), p99: q(0.99), max: q(1) }));
