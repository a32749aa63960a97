/**
 * How a gateway should read the agent's precise index (issue 18): a unary
 * LookupPrefix per decision, or a local copy kept by the WatchKvIndex stream.
 * At llm-d-router#2390's scale (96 pods, 28 800 blocks each, a 240k-token
 * prompt every pod holds) over real loopback HTTP (Connect, binary):
 *
 * - unary: the round trip of one LookupPrefix carrying the prompt's 15 000
 *   hashes (what every decision would wait for), p50/p99;
 * - stream: the local lookup on the copy (what a decision costs instead), the
 *   time and bytes for a new gateway to receive the whole index, and the
 *   agent's and the gateway's CPU to carry 10 000 events/s to it (events fed
 *   to the agent's collector as decoded pod batches, BlockStored/BlockRemoved
 *   in the simulator's shape), with the copy's lag behind the agent.
 *
 *   node --expose-gc --import tsx bench/kv-index-watch.ts [--quick]
 */
import { createClient } from '@connectrpc/connect';
import { createConnectTransport } from '@connectrpc/connect-web';
import { MetricsAgent } from '../src/agent/agent.ts';
import { createAgentApp } from '../src/agent/app.ts';
import { KvIndexReplica } from '../src/endpoints/kv-index-replica.ts';
import { poolKey } from '../src/endpoints/types.ts';
import { KvIndexService } from '../src/gen/infergate/v1/kv_index_pb.ts';
import { encodeBatch } from '../src/kvevents/codec.ts';
import { KvEventsCollector } from '../src/kvevents/collector.ts';
import type { KvEvent } from '../src/kvevents/events.ts';
import type { SeqMessage } from '../src/kvevents/pod-stream.ts';
import type { KvEventTransport, SubscriberOptions } from '../src/kvevents/transport.ts';
import { listen } from '../src/runtime/node/index.ts';

const quick = process.argv.includes('--quick') || process.env.INFERGATE_BENCH_QUICK === '1';
const PODS = 96;
const PER_POD = quick ? 4_000 : 28_800;
const PROMPT_BLOCKS = quick ? 2_000 : 15_000;
const EVENT_SECONDS = quick ? 2 : 5;

let state = 0x9e3779b97f4a7c15n;
const rand64 = () => {
  state ^= state << 13n;
  state &= 0xffffffffffffffffn;
  state ^= state >> 7n;
  state ^= state << 17n;
  state &= 0xffffffffffffffffn;
  return state;
};

// A transport whose "sockets" are this process: the bench delivers each pod's batches itself.
const subscribers = new Map<string, SubscriberOptions>();
const transport: KvEventTransport = {
  subscribe(o) {
    subscribers.set(o.endpoint, o);
    return { close: async () => void subscribers.delete(o.endpoint) };
  },
  // eslint-disable-next-line require-yield
  async *replay(): AsyncIterable<SeqMessage> {
    throw new Error('no replay in this benchmark');
  },
};

const pods = Array.from({ length: PODS }, (_, p) => ({ address: `10.0.${p >> 8}.${p & 255}`, port: 8000, labels: { pool: 'bench' }, engine: 'vllm' as const, kvEventsEndpoint: `tcp://10.0.${p >> 8}.${p & 255}:5557` }));
const agent = new MetricsAgent({ get: async () => { throw new Error('no scraping in this benchmark'); } });
agent.setEntries(pods);
const collector = new KvEventsCollector({ transport });
const { app } = createAgentApp(agent, { kvEvents: { collector, convention: { port: 5557 } } });
const server = await listen(app.fetch, 0);
const url = `http://127.0.0.1:${server.port}`;
const pool = { name: 'bench', selector: { pool: 'bench' }, targetPorts: [8000] };
const client = createClient(KvIndexService, createConnectTransport({ baseUrl: url, useBinaryFormat: true }));
// The pool's name (its namespace, default) as the gateways send it: the same index their watches read.
await client.getKvIndexState({ ...pool, pool: pool.name }); // subscribes the pool's pods (to the in-process transport)

// Fill the agent's index as the pods' events would: the prompt on every pod, then each pod's own blocks.
const seqs = new Map<string, bigint>();
const deliver = (endpoint: string, events: KvEvent[]) => {
  const seq = seqs.get(endpoint) ?? 0n;
  seqs.set(endpoint, seq + 1n);
  subscribers.get(endpoint)!.onMessage({ seq, payload: encodeBatch({ ts: Date.now() / 1000, events, dataParallelRank: 0 }) }, '');
};
const stored = (hashes: bigint[]): KvEvent => ({ type: 'BlockStored', blockHashes: hashes, parentBlockHash: null, tokenIds: [], blockSize: 16, loraId: null, medium: 'GPU', loraName: null });
const prompt = Array.from({ length: PROMPT_BLOCKS }, rand64);
const owned = new Map<string, bigint[]>();
for (const p of pods) {
  const own = Array.from({ length: PER_POD - PROMPT_BLOCKS }, rand64);
  owned.set(p.kvEventsEndpoint, own);
  deliver(p.kvEventsEndpoint, [stored(prompt)]);
  for (let i = 0; i < own.length; i += 4096) deliver(p.kvEventsEndpoint, [stored(own.slice(i, i + 4096))]);
}
const key = poolKey(pool);
const agentStats = collector.index(key).stats();

// Unary: a LookupPrefix round trip per decision.
const hashes = BigUint64Array.from(prompt);
const unary: number[] = [];
for (let r = 0; r < (quick ? 20 : 60); r++) {
  const s = performance.now();
  const res = await client.lookupPrefix({ ...pool, pool: pool.name, blockHashes: [...hashes] });
  unary.push(performance.now() - s);
  if (res.matches[0]!.blocks !== PROMPT_BLOCKS) throw new Error(`unary lookup found ${res.matches[0]!.blocks} blocks`);
}

// Stream: a gateway's copy, from the whole index to in step.
const heap0 = (globalThis.gc?.(), process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers);
const t0 = performance.now();
const replica = new KvIndexReplica({ agentUrl: url });
let view = replica.view(pool);
while (!view) {
  await new Promise((r) => setTimeout(r, 5));
  view = replica.view(pool);
}
const syncMs = performance.now() - t0;
const replicaHeapMB = ((globalThis.gc?.(), process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers) - heap0) / 1048576;
const ids = pods.map((p) => `${p.address}:8000`);
const local: number[] = [];
for (let r = 0; r < (quick ? 20 : 60); r++) {
  const s = performance.now();
  const m = view.lookup(hashes, ids);
  local.push(performance.now() - s);
  if (m[0]!.blocks !== PROMPT_BLOCKS) throw new Error(`local lookup found ${m[0]!.blocks} blocks`);
}

// 10 000 events/s for a few seconds: batches of 8 events (4 stores of 4 blocks, 4 removals of 1), one pod after
// another. The batches are made (and msgpack-encoded) before the clock starts: only carrying them is measured.
const perTick = 10_000 / 100; // every 10 ms
const ticks: { endpoint: string; payload: Uint8Array }[][] = [];
let lastHash = 0n;
let lastPod = '';
for (let tick = 0; tick < EVENT_SECONDS * 100; tick++) {
  const batches: { endpoint: string; payload: Uint8Array }[] = [];
  for (let e = 0; e < perTick; e += 8) {
    const p = pods[(tick * 13 + e) % PODS]!;
    const own = owned.get(p.kvEventsEndpoint)!;
    const events: KvEvent[] = [];
    for (let k = 0; k < 4; k++) {
      const hs = [rand64(), rand64(), rand64(), rand64()];
      own.push(...hs);
      lastHash = hs[3]!;
      lastPod = `${p.address}:8000`;
      events.push(stored(hs));
      events.push({ type: 'BlockRemoved', blockHashes: [own.shift()!], medium: 'GPU' });
    }
    batches.push({ endpoint: p.kvEventsEndpoint, payload: encodeBatch({ ts: Date.now() / 1000, events, dataParallelRank: 0 }) });
  }
  ticks.push(batches);
}
const cpu0 = process.cpuUsage();
let sent = 0;
const started = performance.now();
for (const [tick, batches] of ticks.entries()) {
  for (const b of batches) {
    const seq = seqs.get(b.endpoint) ?? 0n;
    seqs.set(b.endpoint, seq + 1n);
    subscribers.get(b.endpoint)!.onMessage({ seq, payload: b.payload }, '');
    sent += 8;
  }
  const wait = started + (tick + 1) * 10 - performance.now();
  if (wait > 0) await new Promise((r) => setTimeout(r, wait));
}
const feedEnd = performance.now();
while (replica.view(pool)!.lookup(BigUint64Array.of(lastHash), [lastPod])[0]!.blocks === 0) {
  if (performance.now() - feedEnd > 10_000) throw new Error('the copy did not catch up');
  await new Promise((r) => setTimeout(r, 1));
}
const lagMs = performance.now() - feedEnd;
const cpu = process.cpuUsage(cpu0);
const wallS = (performance.now() - started) / 1000;

replica.close();
await collector.close();
await server.close();

const pct = (xs: number[], p: number) => Number([...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(xs.length * p))]!.toFixed(2));
console.log(JSON.stringify({
  bench: 'kv-index-watch',
  quick,
  pods: PODS,
  blocksPerPod: PER_POD,
  promptBlocks: PROMPT_BLOCKS,
  agentIndex: { entries: agentStats.entries, arraysMB: Number((agentStats.bytes / 1048576).toFixed(1)) },
  unaryLookupPrefixMs: { p50: pct(unary, 0.5), p99: pct(unary, 0.99), requestBytes: PROMPT_BLOCKS * 9 },
  localLookupMs: { p50: pct(local, 0.5), p99: pct(local, 0.99) },
  newGateway: { wholeIndexMs: Math.round(syncMs), copyHeapMB: Number(replicaHeapMB.toFixed(1)) },
  updates: { eventsPerS: Math.round(sent / wallS), cpuMsPer10kEvents_agentAndGateway: Number((((cpu.user + cpu.system) / 1000) * (10_000 / sent)).toFixed(1)), lagAfterLastBatchMs: Number(lagMs.toFixed(1)) },
}, null, 1));
