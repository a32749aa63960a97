/**
 * A whole scheduling decision, no I/O: pool snapshot of 256 endpoints with
 * live metrics, a 32 KiB chat prompt, infergate's default profile (fresh
 * metrics filter, five scorers, max-score) — decide() then dispatched(), as
 * the data path calls them. Reports per-decision latency percentiles for the
 * WASM kernel and the TypeScript twin. Run: npx tsx bench/decision.ts
 */
import type { Endpoint } from '../src/endpoints/types.ts';
import type { Pool } from '../src/routing/schema.ts';
import { loadKernelModule } from '../src/runtime/node.ts';
import { createScheduler } from '../src/scheduling/index.ts';
import type { SchedulingRequest } from '../src/scheduling/scheduler.ts';

const ENDPOINTS = 256;
const NOW = 1_800_000_000_000;
const DECISIONS = 20_000;

let rng = 42;
const random = () => ((rng = (Math.imul(rng, 1103515245) + 12345) >>> 0) / 4294967296);

const endpoints: Endpoint[] = Array.from({ length: ENDPOINTS }, (_, i) => ({
  id: `10.1.${i >> 8}.${i & 255}:8000`,
  address: `10.1.${i >> 8}.${i & 255}`,
  port: 8000,
  labels: { app: 'vllm' },
  ready: true,
  engine: 'vllm',
  scrapedAt: NOW - Math.floor(random() * 50),
  metrics: {
    waiting: Math.floor(random() * 6),
    running: Math.floor(random() * 64),
    kvUsage: random() * 0.9,
    activeAdapters: i % 3 === 0 ? ['english-bot'] : ['spanish-bot'],
    waitingAdapters: [],
    maxAdapters: 4,
    blockSize: 16,
    totalBlocks: 8192,
  },
}));
const snapshot = { pool: 'bench', endpoints, at: NOW, hasMetrics: true };
const pool: Pool = { name: 'bench', selector: {}, targetPorts: [8000], appProtocol: 'http', failureMode: 'FailClose' };

/** A 32 KiB chat prompt: a shared system prompt and one of 64 conversations. */
function chatPrompt(conversation: number): string {
  const system = 'system: You are a careful assistant for an airline. Answer briefly and cite the policy section. '.repeat(80);
  const user = `user: conversation ${conversation}: ` + 'I would like to change my booking to a later flight, please. '.repeat(400);
  return (system + user).slice(0, 32 * 1024);
}
const prompts = Array.from({ length: 64 }, (_, i) => chatPrompt(i));

function percentile(sorted: Float64Array, p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

async function run(label: string, kernel: WebAssembly.Module | undefined): Promise<void> {
  const scheduler = createScheduler({ kernel, now: () => NOW, random });
  const request = (r: number): SchedulingRequest => ({
    requestId: `r${r}`, targetModel: r % 2 ? 'english-bot' : 'spanish-bot', requestedModel: 'chatbot',
    prompt: prompts[r % prompts.length]!, criticality: 'Standard', priority: 0, explain: false,
  });
  // Warm up (JIT, kernel tier-up) and fill the prefix index.
  for (let r = 0; r < 3000; r++) {
    const req = request(r);
    const d = scheduler.decide(pool, snapshot, req);
    if (d.kind === 'route') {
      scheduler.dispatched(pool, d.endpoint, req);
      scheduler.completed(pool, d.endpoint, req);
    }
  }
  const times = new Float64Array(DECISIONS);
  const dispatchTimes = new Float64Array(DECISIONS);
  for (let r = 0; r < DECISIONS; r++) {
    const req = request(r);
    const t0 = process.hrtime.bigint();
    const d = scheduler.decide(pool, snapshot, req);
    const t1 = process.hrtime.bigint();
    if (d.kind !== 'route') throw new Error(`unexpected ${d.kind}`);
    scheduler.dispatched(pool, d.endpoint, req);
    const t2 = process.hrtime.bigint();
    scheduler.completed(pool, d.endpoint, req);
    times[r] = Number(t1 - t0) / 1000;
    dispatchTimes[r] = Number(t2 - t1) / 1000;
  }
  times.sort();
  dispatchTimes.sort();
  const f = (x: number) => x.toFixed(1).padStart(6);
  console.log(
    `${label.padEnd(5)} | decide p50 ${f(percentile(times, 0.5))} p90 ${f(percentile(times, 0.9))} p99 ${f(percentile(times, 0.99))} p99.9 ${f(percentile(times, 0.999))} µs` +
      ` | dispatched p50 ${f(percentile(dispatchTimes, 0.5))} p99 ${f(percentile(dispatchTimes, 0.99))} µs`,
  );
}

console.log(`decision benchmark — node ${process.version}, ${ENDPOINTS} endpoints, 32 KiB prompt, ${DECISIONS} decisions, wall time`);
await run('wasm', await loadKernelModule());
await run('ts', undefined);
