/**
 * The precise prefix index against llm-d-router#2390's case: a 240k-token
 * prompt (15 000 blocks of 16) over 96 pods with full indexes (each pod's
 * cache full: 28 800 blocks, the llama3-8b-h100 profile), every pod holding
 * the whole prompt — the worst lookup. Prints lookup time, index memory, and
 * the agent's CPU to decode and apply 10 000 events/s (batches as the
 * simulator publishes them). Figures from a shared machine are indicative.
 *
 *   npx tsx bench/kv-index.ts [--quick]
 */
import { KvBlockIndex } from '../src/kvevents/block-index.ts';
import { encodeBatch } from '../src/kvevents/codec.ts';
import type { KvEvent } from '../src/kvevents/events.ts';
import { PodEventStream } from '../src/kvevents/pod-stream.ts';

const quick = process.argv.includes('--quick');
const PODS = 96;
const PER_POD = quick ? 4_000 : 28_800;
const PROMPT_BLOCKS = quick ? 2_000 : 15_000;

let state = 0x9e3779b97f4a7c15n;
const rand64 = () => {
  state ^= state << 13n;
  state &= 0xffffffffffffffffn;
  state ^= state >> 7n;
  state ^= state << 17n;
  state &= 0xffffffffffffffffn;
  return state;
};

const prompt = new BigUint64Array(PROMPT_BLOCKS);
for (let i = 0; i < PROMPT_BLOCKS; i++) prompt[i] = rand64();
const promptList = Array.from(prompt);

const heapBefore = (globalThis.gc?.(), process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
const t0 = performance.now();
const index = new KvBlockIndex(PROMPT_BLOCKS + PODS * (PER_POD - PROMPT_BLOCKS));
const pods: string[] = [];
for (let p = 0; p < PODS; p++) {
  const pod = `10.0.${p >> 8}.${p & 255}:8000`;
  pods.push(pod);
  index.store(pod, promptList);
  const own: bigint[] = [];
  for (let i = PROMPT_BLOCKS; i < PER_POD; i++) own.push(rand64());
  index.store(pod, own);
}
const buildMs = performance.now() - t0;
globalThis.gc?.();
const heapAfter = process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers;
const stats = index.stats();

// Lookup: every pod matches the whole prompt (the longest walk).
const times: number[] = [];
for (let r = 0; r < (quick ? 20 : 50); r++) {
  const s = performance.now();
  const m = index.lookup(prompt, pods);
  times.push(performance.now() - s);
  if (m[0]!.blocks !== PROMPT_BLOCKS) throw new Error(`lookup found ${m[0]!.blocks} blocks, expected ${PROMPT_BLOCKS}`);
}
times.sort((a, b) => a - b);

// Agent CPU: decode + apply batches like a pod's (a step's stores and evictions).
const EVENTS = quick ? 10_000 : 50_000;
const batches: Uint8Array[] = [];
let live: bigint[] = [];
for (let made = 0; made < EVENTS; ) {
  const events: KvEvent[] = [];
  for (let k = 0; k < 8 && made < EVENTS; k++, made++) {
    if (live.length > 64 && k % 2 === 1) events.push({ type: 'BlockRemoved', blockHashes: [live.shift()!], medium: 'GPU', groupIdx: 0 });
    else {
      const hs = [rand64(), rand64(), rand64(), rand64()];
      live.push(...hs);
      events.push({ type: 'BlockStored', blockHashes: hs, parentBlockHash: rand64(), tokenIds: Array.from({ length: 64 }, (_, i) => 1000 + i), blockSize: 16, loraId: null, medium: 'GPU', loraName: null, extraKeys: [null, null, null, null], groupIdx: 0, kvCacheSpecKind: 'full_attention' });
    }
  }
  batches.push(encodeBatch({ ts: Date.now() / 1000, events, dataParallelRank: 0 }));
}
live = [];
const agentIndex = new KvBlockIndex();
const stream = new PodEventStream({ apply: (b) => agentIndex.apply('pod', b.events), clear: () => {} });
const cpu0 = process.cpuUsage();
const w0 = performance.now();
batches.forEach((payload, i) => stream.receive({ seq: BigInt(i), payload }));
const wallMs = performance.now() - w0;
const cpu = process.cpuUsage(cpu0);
const cpuMsPer10k = ((cpu.user + cpu.system) / 1000) * (10_000 / EVENTS);

const mb = (b: number) => (b / 1048576).toFixed(1);
console.log(JSON.stringify({
  bench: 'kv-index',
  quick,
  pods: PODS,
  blocksPerPod: PER_POD,
  promptBlocks: PROMPT_BLOCKS,
  promptTokens: PROMPT_BLOCKS * 16,
  index: { keys: stats.keys, entries: stats.entries, arraysMB: Number(mb(stats.bytes)), heapDeltaMB: Number(mb(heapAfter - heapBefore)), buildMs: Math.round(buildMs) },
  lookupMs: { p50: Number(times[times.length >> 1]!.toFixed(3)), p99: Number(times[Math.floor(times.length * 0.99)]!.toFixed(3)), min: Number(times[0]!.toFixed(3)) },
  agent: { events: EVENTS, batches: batches.length, wallMs: Math.round(wallMs), cpuMsPer10kEvents: Number(cpuMsPer10k.toFixed(1)), coreShareAt10kEventsPerSec: Number((cpuMsPer10k / 1000).toFixed(3)) },
}, null, 1));
