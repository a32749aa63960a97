/**
 * What a Durable Object decision costs per request at the edge, under
 * `wrangler dev --local`: the same Worker with decisions made by the pool's
 * Durable Object (`INFERGATE_EDGE_STATE=durable-object`) and by the isolate
 * itself (`isolate`), side by side, plus the Node gateway as a reference. The
 * pods answer a small JSON at once, so the figures are the gateway's own.
 *
 *   npx tsx test/runtimes/bench-edge-decision.ts [requests=400] [concurrency=8]
 */
import { startGateway } from '../../src/runtime/node/gateway.ts';
import { startFixture } from './fixture.ts';
import { chat } from './suite.ts';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { bundleWorker, startWranglerDev } from './wrangler.ts';

const REQUESTS = Number(process.argv[2] ?? 400);
const CONCURRENCY = Number(process.argv[3] ?? 8);

const body = JSON.stringify(chat('edge-bot', 'a short question about the weather'));
const headers = { 'content-type': 'application/json', 'x-gateway-model-name': 'edge-bot' };

let timeouts = 0;

/** One request's latency (ms); a request with no answer in 5 s is counted (and reported), not measured. */
async function one(url: string, method = 'POST', path = '/v1/chat/completions'): Promise<number | undefined> {
  const t = performance.now();
  try {
    const res = await fetch(`${url}${path}`, method === 'POST' ? { method, headers, body, signal: AbortSignal.timeout(5_000) } : { signal: AbortSignal.timeout(5_000) });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`HTTP ${res.status}`);
  } catch (err) {
    if ((err as Error).name !== 'TimeoutError') throw err;
    timeouts++;
    return undefined;
  }
  return performance.now() - t;
}

const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((sorted.length * p) / 100))]!;

async function measure(url: string, method?: string, path?: string) {
  for (let i = 0; i < 50; i++) await one(url, method, path); // warm-up: JIT, connections, the object's first snapshot
  const lat: number[] = [];
  timeouts = 0;
  for (let i = 0; i < REQUESTS; i++) {
    const ms = await one(url, method, path);
    if (ms !== undefined) lat.push(ms);
  }
  lat.sort((a, b) => a - b);
  let done = 0;
  const t = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (done < REQUESTS) {
        done++;
        await one(url, method, path);
      }
    }),
  );
  const rps = REQUESTS / ((performance.now() - t) / 1000);
  return { mean: lat.reduce((a, b) => a + b, 0) / lat.length, p50: pct(lat, 50), p90: pct(lat, 90), p99: pct(lat, 99), rps, timeouts };
}

const loadBefore = (await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ');
const fixture = await startFixture({ agent: true });
const rows: [string, Awaited<ReturnType<typeof measure>>][] = [];
const bundled = mkdtempSync(join(tmpdir(), 'infergate-bench-worker-'));
try {
  await bundleWorker(bundled, fixture.manifests);
  for (const mode of ['durable-object', 'isolate'] as const) {
    const worker = await startWranglerDev({ manifests: fixture.manifests, bundled, vars: { INFERGATE_AGENT: fixture.agentUrl!, INFERGATE_EDGE_STATE: mode } });
    try {
      if (mode === 'isolate') rows.push(['workerd floor: GET /healthz on the same Worker (wrangler dev proxy + workerd, no routing, no upstream)', await measure(worker.url, 'GET', '/healthz')]);
      const r = await measure(worker.url);
      rows.push([`workerd, decision by ${mode === 'durable-object' ? 'the pool\'s Durable Object' : 'the isolate (no DO)'}`, r]);
    } finally {
      await worker.stop();
    }
  }
  const node = await startGateway({ port: 0, manifests: fixture.manifests, agent: fixture.agentUrl, log: () => {} });
  try {
    await new Promise((r) => setTimeout(r, 500));
    rows.push(['Node gateway (reference), same agent', await measure(node.url)]);
  } finally {
    await node.close();
  }
} finally {
  await fixture.close();
  rmSync(bundled, { recursive: true, force: true });
}

const f = (x: number) => x.toFixed(2);
console.log(`\n${REQUESTS} sequential requests (latency, ms) and ${REQUESTS} at concurrency ${CONCURRENCY} (req/s); ${new Date().toISOString().slice(0, 10)}\n`);
console.log(`load average before: ${loadBefore}, after: ${(await import('node:os')).loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
console.log('| gateway | mean | p50 | p90 | p99 | req/s (c=' + CONCURRENCY + ') | no answer in 5 s |');
console.log('|---|---|---|---|---|---|---|');
for (const [name, r] of rows) console.log(`| ${name} | ${f(r.mean)} | ${f(r.p50)} | ${f(r.p90)} | ${f(r.p99)} | ${Math.round(r.rps)} | ${r.timeouts} |`);
const dobj = rows[0];
const iso = rows[2];
if (dobj && iso) console.log(`\nDurable Object decision: +${f(dobj[1].mean - iso[1].mean)} ms mean, +${f(dobj[1].p50 - iso[1].p50)} ms p50 per request`);
