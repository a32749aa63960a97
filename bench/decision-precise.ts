/**
 * A precise decision at llm-d-router#2390's scale (issue 18): a 240k-token
 * prompt (15 000 blocks of 16 tokens) over 96 pods whose indexes are full
 * (28 800 blocks each, the llama3-8b-h100 profile), every pod holding the
 * whole prompt — the longest lookup walk. infergate's default profile with
 * precise-prefix-cache-scorer in place of the approximate scorer, decide()
 * then dispatched() as the data path calls them, the index read through the
 * KvIndexSource port (a gateway's local copy), token ids from the
 * tokenizer's cache. Three cases:
 *
 * - `repeat`: the same prompt again (its block hashes cached);
 * - `next turn`: the prompt grown by ~300 tokens each decision (a
 *   conversation: the earlier blocks' hashes reused, the new ones hashed);
 * - `cold`: a 240k-token prompt never seen (every block hashed, SHA-256 as vLLM).
 *
 * Also the index's memory (typed arrays, and the heap it adds). Figures from
 * a shared machine are indicative.
 *
 *   node --expose-gc --import tsx bench/decision-precise.ts [--quick]
 */
import { hash } from 'node:crypto';
import type { Endpoint } from '../src/endpoints/types.ts';
import { KvBlockIndex } from '../src/kvevents/block-index.ts';
import { BlockHasher } from '../src/kvevents/block-hash.ts';
import type { Pool } from '../src/routing/schema.ts';
import { loadKernelModule } from '../src/runtime/node/index.ts';
import { createScheduler, validateSchedulerConfig } from '../src/scheduling/index.ts';
import type { PromptTokens } from '../src/scheduling/prompt-tokens.ts';
import type { SchedulingRequest } from '../src/scheduling/scheduler.ts';
import { preciseProfileDoc } from './routing/precise/strategies.ts';

const quick = process.argv.includes('--quick') || process.env.INFERGATE_BENCH_QUICK === '1';
const PODS = 96;
const BLOCK = 16;
const PER_POD = quick ? 4_000 : 28_800;
const PROMPT_TOKENS = quick ? 32_000 : 240_000;
const PROMPT_BLOCKS = PROMPT_TOKENS / BLOCK;
const NOW = 1_800_000_000_000;

const memory = () => (globalThis.gc?.(), process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
const mb = (b: number) => Number((b / 1048576).toFixed(1));

// The prompt's tokens and the hashes the engines publish for it.
// node:crypto's SHA-256, as the Node gateway lends it (src/runtime/node/gateway.ts).
const sha256 = (data: Uint8Array) => hash('sha256', data, 'buffer') as Uint8Array;
const hasher = new BlockHasher({ blockSize: BLOCK, algo: 'sha256', seed: '0' }, sha256);
let seed = 7;
const nextToken = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) % 128_000;
const tokens = Uint32Array.from({ length: PROMPT_TOKENS }, nextToken);
const t0 = performance.now();
const promptHashes = hasher.hashes(tokens).hashes;
const hashAllMs = performance.now() - t0;

// 96 pods, each holding the prompt and its own other blocks: a full cache.
const before = memory();
const index = new KvBlockIndex(PROMPT_BLOCKS + PODS * (PER_POD - PROMPT_BLOCKS));
const promptList = Array.from(promptHashes);
let other = 0x1234_5678_9abcn;
const endpoints: Endpoint[] = [];
for (let p = 0; p < PODS; p++) {
  const id = `10.0.${p >> 8}.${p & 255}:8000`;
  index.store(id, promptList);
  const own: bigint[] = [];
  for (let i = PROMPT_BLOCKS; i < PER_POD; i++) own.push((other = (other * 6364136223846793005n + 1442695040888963407n) & 0xffff_ffff_ffff_ffffn));
  index.store(id, own);
  endpoints.push({
    id, address: id.split(':')[0]!, port: 8000, labels: {}, ready: true, engine: 'vllm', scrapedAt: NOW - (p % 40),
    metrics: { waiting: p % 5, running: 10 + (p % 30), kvUsage: 0.5 + (p % 10) / 25, activeAdapters: [], waitingAdapters: [], maxAdapters: 0, blockSize: BLOCK, totalBlocks: PER_POD },
  });
}
const indexHeapMB = mb(memory() - before);
const stats = index.stats();

const config = validateSchedulerConfig({ ...preciseProfileDoc('0'), schedulingProfiles: preciseProfileDoc('0').schedulingProfiles.map((p) => ({ ...p, name: 'default' })) });
if (!config.ok) throw new Error(JSON.stringify(config.problems));
let current: PromptTokens = { tokens, partial: false, loraName: null, source: 'cache' };
const scheduler = createScheduler({
  config: config.config,
  kernel: await loadKernelModule(),
  now: () => NOW,
  random: () => 0.5,
  services: {
    kvIndex: { view: () => ({ lookup: (h, pods) => index.lookup(h, pods), updatedAt: NOW - 5, syncedAt: NOW }), whyNot: () => '' },
    tokenizer: { tokenize: () => current },
    sha256,
  },
});
const pool: Pool = { name: 'bench', selector: {}, targetPorts: [8000], appProtocol: 'http', failureMode: 'FailClose' };
const snapshot = { pool: 'bench', endpoints, at: NOW, hasMetrics: true };
const text = 'x'.repeat(PROMPT_TOKENS * 4);
let n = 0;
const request = (): SchedulingRequest => ({ requestId: `r${n++}`, targetModel: 'm', requestedModel: 'm', prompt: text, criticality: 'Standard', priority: 0, explain: false });

/** CPU ms of each measured decision (this thread's; less disturbed than wall time on a shared machine). */
const cpuMs: number[] = [];

function decide(): { ms: number; matched: boolean } {
  const r = request();
  const c = process.cpuUsage();
  const s = performance.now();
  if (scheduler.prepare(pool, snapshot, r)) throw new Error('the tokenizer answered from its cache: nothing to wait for');
  const d = scheduler.decide(pool, snapshot, r);
  const ms = performance.now() - s;
  const used = process.cpuUsage(c);
  cpuMs.push((used.user + used.system) / 1000);
  if (d.kind !== 'route') throw new Error(`no route: ${d.kind}`);
  scheduler.dispatched(pool, d.endpoint, r);
  scheduler.completed(pool, d.endpoint, r);
  return { ms, matched: true };
}

function percentiles(times: number[]) {
  const cpu = cpuMs.splice(0).sort((a, b) => a - b);
  times.sort((a, b) => a - b);
  const at = (xs: number[], p: number) => Number(xs[Math.min(xs.length - 1, Math.floor(xs.length * p))]!.toFixed(2));
  return { p50: at(times, 0.5), p99: at(times, 0.99), cpuP50: at(cpu, 0.5), cpuP99: at(cpu, 0.99), n: times.length };
}

// Repeat: the same prompt; the first decision hashes it once, then JIT warm-up (unmeasured).
const first = decide().ms;
for (let w = 0; w < 30; w++) decide();
cpuMs.length = 0;
const repeat = percentiles(Array.from({ length: quick ? 20 : 100 }, () => decide().ms));
// Next turn: ~300 tokens more each time.
let grown = tokens;
const nextTurn = percentiles(
  Array.from({ length: quick ? 10 : 40 }, () => {
    const more = new Uint32Array(grown.length + 300);
    more.set(grown);
    for (let i = grown.length; i < more.length; i++) more[i] = nextToken();
    grown = more;
    current = { tokens: grown, partial: false, loraName: null, source: 'cache' };
    return decide().ms;
  }),
);
// Cold: prompts never seen (the hash cache holds 16 prompts; these share nothing).
const cold = percentiles(
  Array.from({ length: quick ? 3 : 8 }, () => {
    current = { tokens: Uint32Array.from({ length: PROMPT_TOKENS }, nextToken), partial: false, loraName: null, source: 'cache' };
    return decide().ms;
  }),
);

console.log(JSON.stringify({
  bench: 'decision-precise',
  quick,
  pods: PODS,
  promptTokens: PROMPT_TOKENS,
  blocksPerPod: PER_POD,
  index: { keys: stats.keys, entries: stats.entries, arraysMB: mb(stats.bytes), heapMB: indexHeapMB },
  decideMs: { firstOfPrompt: Number(first.toFixed(1)), repeat, nextTurn, cold },
  hashWholePromptMs: Number(hashAllMs.toFixed(1)),
  targets: { decisionUnder5ms: repeat.p99 < 5 && nextTurn.p99 < 5, indexUnder64MB: mb(stats.bytes) < 64 },
}, null, 1));
