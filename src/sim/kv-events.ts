/**
 * A simulated pod's KV events, published as vLLM publishes them: the engine's
 * cache tells what it stores and evicts, events gather during a step and leave
 * as one KVEventBatch per step (`[ts, events, data_parallel_rank]`, msgpack),
 * numbered from 0, kept in a bounded ring for the replay socket. BlockStored
 * carries what vLLM's block pool fills in (hashes, parent, tokens, block size,
 * LoRA id and name, medium GPU, extra keys, group 0, `full_attention`);
 * BlockRemoved one hash per evicted block; AllBlocksCleared on a reset.
 */
import { encodeBatch } from '../kvevents/codec.ts';
import { MEDIUM_GPU, type EventLayout, type KvEvent } from '../kvevents/events.ts';
import { ReplayRing, type KvEventPublisher, type OpenPublisher } from '../kvevents/transport.ts';
import type { EngineKvObserver, SimEngine } from './engine.ts';
import type { KvCacheObserver } from './kv-cache.ts';
import type { Sequence } from './sequence.ts';

export interface PodKvEventsOptions {
  endpoint: string;
  replayEndpoint?: string;
  bind: boolean;
  topic: string;
  /** Batches kept for replay (vLLM's `buffer_steps`). */
  bufferSteps: number;
  layout: EventLayout;
  /** Wall clock, ms since the epoch (the batch `ts`). */
  now?: () => number;
}

/** Records one engine's cache changes and publishes them per step. */
export class PodKvEvents implements EngineKvObserver, KvCacheObserver {
  private pending: KvEvent[] = [];
  private seq = 0n;
  readonly ring: ReplayRing;
  /** The 64-bit hash each cached block holds, by block id (to name an evicted block). */
  private readonly heldHi: Uint32Array;
  private readonly heldLo: Uint32Array;
  private readonly blockSize: number;
  private publisher: KvEventPublisher | undefined;
  /** Batches sent; for /admin/state and tests. */
  published = 0;
  /** Blocks announced stored and removed. */
  storedBlocks = 0;
  removed = 0;

  constructor(
    engine: SimEngine,
    private readonly o: PodKvEventsOptions,
  ) {
    this.ring = new ReplayRing(o.bufferSteps);
    this.heldHi = new Uint32Array(engine.config.numGpuBlocks);
    this.heldLo = new Uint32Array(engine.config.numGpuBlocks);
    this.blockSize = engine.config.blockSize;
    engine.kvObserver = this;
    engine.kv.observer = this;
  }

  /** Opens the sockets (through the port). */
  async open(openPublisher: OpenPublisher): Promise<KvEventPublisher> {
    this.publisher = await openPublisher({
      endpoint: this.o.endpoint,
      replayEndpoint: this.o.replayEndpoint,
      bind: this.o.bind,
      topic: this.o.topic,
      replayFrom: (from) => this.ring.from(from),
    });
    return this.publisher;
  }

  stored(seq: Sequence, from: number, to: number): void {
    const kv = seq.kv;
    if (!kv) return; // a request submitted without token ids (tests, benchmarks) has nothing to publish
    const hashes = Array.from(kv.hashes.subarray(from, to));
    this.storedBlocks += hashes.length;
    const blocks = seq.blocks;
    for (let b = from; b < to; b++) {
      const h = kv.hashes[b]!;
      this.heldHi[blocks[b]!] = Number(h >> 32n);
      this.heldLo[blocks[b]!] = Number(h & 0xffffffffn);
    }
    const bs = this.blockSize;
    this.pending.push({
      type: 'BlockStored',
      blockHashes: hashes,
      parentBlockHash: from > 0 ? kv.hashes[from - 1]! : null,
      tokenIds: Array.from(kv.tokens.subarray(from * bs, to * bs)),
      blockSize: bs,
      loraId: kv.loraId,
      medium: MEDIUM_GPU,
      loraName: kv.loraName,
      extraKeys: hashes.map(() => (kv.loraName ? [kv.loraName] : null)),
      groupIdx: 0,
      kvCacheSpecKind: 'full_attention',
    });
  }

  evicted(id: number): void {
    const h = (BigInt(this.heldHi[id]!) << 32n) | BigInt(this.heldLo[id]!);
    this.removed++;
    this.pending.push({ type: 'BlockRemoved', blockHashes: [h], medium: MEDIUM_GPU, groupIdx: 0 });
  }

  cleared(): void {
    this.pending.push({ type: 'AllBlocksCleared' });
    this.stepDone();
  }

  stepDone(): void {
    if (this.pending.length === 0) return;
    const events = this.pending;
    this.pending = [];
    const ts = (this.o.now ?? Date.now)() / 1000;
    const payload = encodeBatch({ ts, events, dataParallelRank: 0 }, this.o.layout);
    const seq = this.seq++;
    this.ring.push(seq, payload);
    this.published++;
    this.publisher?.send(seq, payload);
  }

  /** The 64-bit hashes of every block the engine's cache holds now, sorted. */
  cachedHashes(engine: SimEngine): bigint[] {
    const out: bigint[] = [];
    engine.kv.forEachCached((id) => out.push((BigInt(this.heldHi[id]!) << 32n) | BigInt(this.heldLo[id]!)));
    return out.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  }

  async close(): Promise<void> {
    await this.publisher?.close();
  }
}

/**
 * vLLM's rule for its PUB socket: bind when the host is a wildcard (`*`, `::`)
 * or the transport is ipc/inproc, else connect (a consumer binds). The
 * simulator also binds an address equal to its own `--host`, and binds
 * wildcards on that host (this machine serves loopback only).
 */
export function publisherAddress(endpoint: string, podIndex: number, host: string): { endpoint: string; bind: boolean } {
  const m = /^tcp:\/\/(\[[^\]]+\]|[^:]+):(\d+|\*)$/.exec(endpoint);
  if (!m) {
    if (/^(ipc|inproc):\/\//.test(endpoint)) return { endpoint: podIndex === 0 ? endpoint : `${endpoint}_dp${podIndex}`, bind: true };
    throw new Error(`KV events endpoint "${endpoint}" is not tcp://host:port, ipc:// or inproc://`);
  }
  const [, h, p] = m as unknown as [string, string, string];
  const wildcard = h === '*' || h === '[::]' || h === '::';
  const port = p === '*' || p === '0' ? '0' : String(Number(p) + podIndex);
  const bind = wildcard || h === host || h === `[${host}]`;
  return { endpoint: `tcp://${wildcard ? host : h}:${port}`, bind };
}
