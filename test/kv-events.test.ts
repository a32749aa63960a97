/**
 * KV events end to end over real ZeroMQ sockets on loopback: simulated pods
 * publish what their caches store and evict, the agent's collector indexes
 * it, and the index must equal the caches exactly — also after a batch is
 * lost on the way (healed from the replay socket).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Simulator } from '../src/sim/index.ts';
import { startSimulator } from '../src/runtime/node/index.ts';
import { KvEventsCollector, type KvPodTarget } from '../src/kvevents/collector.ts';
import { BlockHasher } from '../src/kvevents/block-hash.ts';
import { zmqTransport } from '../src/runtime/node/zmq-subscriber.ts';
import type { KvEventTransport } from '../src/kvevents/transport.ts';

let sim: Simulator | undefined;
let collector: KvEventsCollector | undefined;
afterEach(async () => {
  await collector?.close();
  await sim?.close();
  sim = undefined;
  collector = undefined;
});

const SMALL = { numGpuBlocks: 96, blockSize: 16, maxModelLen: 4096, defaultOutputTokens: 2 };

async function startPods(pods: number) {
  sim = await startSimulator({
    pods,
    port: 0,
    timeScale: 0.01,
    engineConfig: SMALL,
    loras: ['english-bot'],
    kvEventsEndpoint: 'tcp://127.0.0.1:0',
    kvEventsReplayEndpoint: 'tcp://127.0.0.1:0',
    kvEventsBufferSteps: 1000,
    prefixCachingHashAlgo: 'sha256_cbor',
    hashSeed: '42',
  });
  return sim;
}

function targets(s: Simulator): KvPodTarget[] {
  return s.pods.map((p) => ({ id: `127.0.0.1:${p.port}`, endpoint: p.kvEvents!.endpoint, replayEndpoint: p.kvEvents!.replayEndpoint }));
}

/** A prompt of `blocks` full blocks (64 characters each) that shares `shared` leading blocks with others of the same family. */
function prompt(family: number, shared: number, blocks: number, salt: number): string {
  let s = '';
  for (let b = 0; b < blocks; b++) s += (b < shared ? `family ${family} block ${b} ` : `req ${salt} block ${b} `).padEnd(64, '.');
  return s;
}

async function complete(url: string, text: string, model = 'meta-llama/Llama-3.1-8B-Instruct') {
  const r = await fetch(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ model, prompt: text, max_tokens: 2 }) });
  expect(r.status).toBe(200);
  await r.json();
}

async function until(cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until the index has applied every batch each pod published. */
async function caughtUp(c: KvEventsCollector, s: Simulator): Promise<void> {
  await until(() => c.podStates('pool').every((st, i) => Math.max(0, st.nextSeq) === s.pods[i]!.kvEvents!.recorder.published));
  await c.settled();
}

function expectIndexEqualsCaches(c: KvEventsCollector, s: Simulator): void {
  const index = c.index('pool');
  for (const [i, p] of s.pods.entries()) {
    const cached = p.kvEvents!.recorder.cachedHashes(p.engine);
    expect(index.blocksOf(targets(s)[i]!.id)).toEqual(cached);
  }
}

describe('KV events from the simulator', () => {
  it('index built from the events equals every pod cache after a run with evictions, LoRA and a reset', async () => {
    const s = await startPods(2);
    collector = new KvEventsCollector({ transport: zmqTransport });
    collector.setPoolPods('pool', targets(s));
    await new Promise((r) => setTimeout(r, 100)); // ZMQ slow joiner: the catch-up replay covers anything earlier
    let salt = 0;
    for (let round = 0; round < 14; round++) {
      await Promise.all(
        s.pods.map((p, i) => complete(p.url, prompt(round % 3, 2, 12 + i, salt++), round === 4 ? 'english-bot' : undefined)),
      );
    }
    await caughtUp(collector, s);
    expect(s.pods[0]!.kvEvents!.recorder.published).toBeGreaterThan(3);
    expectIndexEqualsCaches(collector, s);
    // 96 blocks, ~12 blocks a request × 14 rounds: the caches evicted, so BlockRemoved was exercised.
    for (const p of s.pods) expect(p.kvEvents!.recorder.removed).toBeGreaterThan(0);

    // vLLM's reset: AllBlocksCleared, and the index forgets the pod.
    const r = await fetch(`${s.pods[1]!.url}/reset_prefix_cache`, { method: 'POST' });
    expect(r.status).toBe(200);
    await caughtUp(collector, s);
    expect(collector.index('pool').blockCount(targets(s)[1]!.id)).toBe(0);
    expectIndexEqualsCaches(collector, s);
  });

  it('a lookup with the hashes a gateway computes from /tokenize finds the pod that served the prompt', async () => {
    const s = await startPods(2);
    collector = new KvEventsCollector({ transport: zmqTransport });
    collector.setPoolPods('pool', targets(s));
    const text = prompt(9, 5, 5, 0) + 'tail';
    await complete(s.pods[1]!.url, text);
    await caughtUp(collector, s);
    const tok = await (await fetch(`${s.pods[0]!.url}/tokenize`, { method: 'POST', body: JSON.stringify({ prompt: text }) })).json();
    const { hashes } = new BlockHasher({ blockSize: 16, algo: 'sha256_cbor', seed: '42' }).hashes(tok.tokens);
    const ids = targets(s).map((t) => t.id);
    const m = collector.lookup('pool', hashes, ids);
    // 5 full blocks; the engine never caches the block holding the last prompt token's successor... all 5 are full and computed.
    expect(m.find((x) => x.pod === ids[1])!.blocks).toBe(5);
    expect(m.find((x) => x.pod === ids[0])!.blocks).toBe(0);
  });

  it('a dropped batch is a gap: the subscriber replays it from the pod and the index heals', async () => {
    const s = await startPods(1);
    let dropped = -1n;
    // The real transport, with one live batch lost on the way (as a full high-water mark would lose it).
    const lossy: KvEventTransport = {
      replay: zmqTransport.replay,
      subscribe: (o) =>
        zmqTransport.subscribe({
          ...o,
          onMessage: (m, topic) => {
            if (dropped < 0n && m.seq === 2n) dropped = m.seq;
            else o.onMessage(m, topic);
          },
        }),
    };
    collector = new KvEventsCollector({ transport: lossy });
    collector.setPoolPods('pool', targets(s));
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 8; i++) await complete(s.pods[0]!.url, prompt(i % 2, 3, 6, i));
    await caughtUp(collector, s);
    expect(dropped).toBe(2n);
    const st = collector.podStates('pool')[0]!;
    expect(st.gaps).toBe(1);
    expect(st.replays).toBeGreaterThanOrEqual(1);
    expect(st.replayedBatches).toBeGreaterThanOrEqual(1);
    expect(st.resyncs).toBe(0);
    expectIndexEqualsCaches(collector, s);
  });

  it('without a replay endpoint a gap drops the pod entries (resync) rather than keep stale ones', async () => {
    const s = await startPods(1);
    let lost = false;
    const lossy: KvEventTransport = {
      replay: zmqTransport.replay,
      subscribe: (o) => zmqTransport.subscribe({ ...o, onMessage: (m, t) => (!lost && m.seq === 1n ? (lost = true) : o.onMessage(m, t)) }),
    };
    collector = new KvEventsCollector({ transport: lossy });
    collector.setPoolPods('pool', [{ ...targets(s)[0]!, replayEndpoint: undefined }]);
    await new Promise((r) => setTimeout(r, 100));
    for (let i = 0; i < 4; i++) await complete(s.pods[0]!.url, prompt(7, 2, 4, i));
    await caughtUp(collector, s);
    const st = collector.podStates('pool')[0]!;
    expect(st.resyncs).toBe(1);
    const held = new Set(s.pods[0]!.kvEvents!.recorder.cachedHashes(s.pods[0]!.engine));
    // Whatever the index still lists, the pod really holds.
    for (const h of collector.index('pool').blocksOf(targets(s)[0]!.id)) expect(held.has(h)).toBe(true);
  });
});
