/**
 * The agent's KV-event side: one subscription per pod (wherever its events
 * are published), feeding a precise prefix index per pool. A pod in several
 * pools is subscribed once; its batches go to every pool index that lists it.
 * Runtime-neutral: sockets come through the KvEventTransport port.
 */
import { KvBlockIndex, type PrefixMatch } from './block-index.ts';
import { PodEventStream, type PodStreamStats } from './pod-stream.ts';
import type { KvEventSubscription, KvEventTransport } from './transport.ts';
import type { IndexUpdate } from './index-updates.ts';
import type { KvEvent } from './events.ts';

/** Gets a pool's index changes as they are applied (see index-updates.ts). */
export type IndexWatcher = (updates: IndexUpdate[]) => void;

export interface KvPodTarget {
  /** The endpoint id (`address:port`), as EndpointService names it. */
  id: string;
  /** The pod's PUB address, e.g. `tcp://10.0.0.7:5557`. */
  endpoint: string;
  replayEndpoint?: string;
  /**
   * The data-parallel rank whose events belong to this endpoint, when its
   * stream may carry other ranks' (several endpoints share one publisher
   * address): a batch whose `data_parallel_rank` differs is not credited to it.
   */
  rank?: number;
}

export interface CollectorOptions {
  transport: KvEventTransport;
  /** SUB prefix filter (vLLM's default topic is ""; llm-d filters on `kv@`). */
  topic?: string;
  replayTimeoutMs?: number;
  log?: (line: Record<string, unknown>) => void;
}

export interface PodEventsState extends PodStreamStats {
  id: string;
  endpoint: string;
  replayEndpoint: string | undefined;
  blocks: number;
  lastError: string;
  /** Batches of another data-parallel rank, not credited to this endpoint. */
  otherRankBatches: number;
}

interface PodSub {
  target: KvPodTarget;
  stream: PodEventStream;
  sub: KvEventSubscription;
  pools: Set<KvBlockIndex>;
  lastError: string;
  otherRankBatches: number;
  /** Whether blocks of an unknown medium were logged for this pod (once). */
  unknownMediumWarned: boolean;
}

export class KvEventsCollector {
  private readonly subs = new Map<string, PodSub>();
  private readonly pools = new Map<string, { index: KvBlockIndex; pods: Set<string>; updatedAt: number; watchers: Set<IndexWatcher> }>();
  private readonly o: Required<Omit<CollectorOptions, 'log'>> & Pick<CollectorOptions, 'log'>;

  constructor(options: CollectorOptions) {
    this.o = { topic: '', replayTimeoutMs: 2000, ...options };
  }

  /** The pool's index (created empty on first use). */
  index(pool: string): KvBlockIndex {
    return this.poolEntry(pool).index;
  }

  /** Makes the pool's members exactly `targets`: new pods are subscribed, gone ones forgotten. */
  setPoolPods(pool: string, targets: readonly KvPodTarget[]): void {
    const p = this.poolEntry(pool);
    const wanted = new Map(targets.map((t) => [t.id, t]));
    for (const id of p.pods) {
      const t = wanted.get(id);
      const s = this.subs.get(id);
      if (t && s && s.target.endpoint === t.endpoint && s.target.replayEndpoint === t.replayEndpoint && s.target.rank === t.rank) continue;
      p.pods.delete(id);
      p.index.clearPod(id, true);
      for (const w of p.watchers) w([{ kind: 'forgotten', pod: id }]);
      if (s) this.release(s, p.index);
    }
    for (const t of wanted.values()) {
      if (p.pods.has(t.id)) continue;
      p.pods.add(t.id);
      // A member from now on, holding nothing yet: lookups answer 0 for it from events, and replicas learn it.
      p.index.podSlot(t.id);
      for (const w of p.watchers) w([{ kind: 'cleared', pod: t.id }]);
      this.acquire(t).pools.add(p.index);
    }
  }

  /**
   * Calls `watcher` with every change applied to the pool's index from now on
   * (read `index(pool)` first for the state it starts from). Returns the
   * function that stops it.
   */
  watch(pool: string, watcher: IndexWatcher): () => void {
    const p = this.poolEntry(pool);
    p.watchers.add(watcher);
    return () => p.watchers.delete(watcher);
  }

  lookup(pool: string, hashes: BigUint64Array, pods?: readonly string[]): PrefixMatch[] {
    const p = this.poolEntry(pool);
    return p.index.lookup(hashes, pods ?? [...p.pods]);
  }

  /** When the pool's index last changed (ms since the epoch; 0: never). */
  updatedAt(pool: string): number {
    return this.pools.get(pool)?.updatedAt ?? 0;
  }

  podStates(pool: string): PodEventsState[] {
    const p = this.pools.get(pool);
    if (!p) return [];
    const out: PodEventsState[] = [];
    for (const id of p.pods) {
      const s = this.subs.get(id);
      if (!s) continue;
      out.push({ id, endpoint: s.target.endpoint, replayEndpoint: s.target.replayEndpoint, blocks: p.index.blockCount(id), lastError: s.lastError, otherRankBatches: s.otherRankBatches, ...s.stream.stats });
    }
    return out;
  }

  /** Settles once no replay is in progress (tests). */
  async settled(): Promise<void> {
    await Promise.all([...this.subs.values()].map((s) => s.stream.idle));
  }

  async close(): Promise<void> {
    const subs = [...this.subs.values()];
    this.subs.clear();
    await Promise.all(subs.map((s) => s.sub.close()));
  }

  private poolEntry(pool: string) {
    let p = this.pools.get(pool);
    if (!p) this.pools.set(pool, (p = { index: new KvBlockIndex(), pods: new Set(), updatedAt: 0, watchers: new Set() }));
    return p;
  }

  /**
   * Applies a pod's events to each of its pools' indexes, marks them changed
   * and tells their watchers what changed (collected only when someone watches).
   */
  private applyEvents(s: PodSub, events: readonly KvEvent[]): void {
    const now = Date.now();
    for (const p of this.pools.values()) {
      if (!s.pools.has(p.index)) continue;
      const before = p.index.unknownMediumBlocks;
      const changes: IndexUpdate[] | undefined = p.watchers.size > 0 ? [] : undefined;
      p.index.apply(s.target.id, events, changes);
      p.updatedAt = now;
      if (p.index.unknownMediumBlocks !== before && !s.unknownMediumWarned) {
        s.unknownMediumWarned = true;
        this.o.log?.({ msg: 'kv events: blocks of an unknown medium are indexed as OTHER (an off-device tier)', pod: s.target.id, media: [...p.index.unknownMediumNames] });
      }
      if (changes) for (const w of p.watchers) w(changes);
    }
  }

  /** Marks the pod's pools changed and tells their watchers (a clear). */
  private touch(s: PodSub, updates: IndexUpdate[]): void {
    const now = Date.now();
    for (const p of this.pools.values()) {
      if (!s.pools.has(p.index)) continue;
      p.updatedAt = now;
      for (const w of p.watchers) w(updates);
    }
  }

  private acquire(t: KvPodTarget): PodSub {
    const existing = this.subs.get(t.id);
    if (existing) return existing;
    const { transport, replayTimeoutMs, topic } = this.o;
    const replay = t.replayEndpoint ? (from: bigint) => transport.replay(t.replayEndpoint!, from, replayTimeoutMs) : undefined;
    const s: PodSub = { target: t, pools: new Set(), lastError: '', otherRankBatches: 0, unknownMediumWarned: false } as PodSub;
    const fail = (message: string) => {
      s.lastError = message;
      this.o.log?.({ msg: 'kv events', pod: t.id, endpoint: t.endpoint, error: message });
    };
    s.stream = new PodEventStream(
      {
        apply: (batch) => {
          // vLLM publishes each DP rank's events on its own port (base + rank), each batch naming its
          // rank; on a shared address, only this endpoint's rank is credited to it (llm-d indexes per rank).
          if (t.rank !== undefined && batch.dataParallelRank != null && batch.dataParallelRank !== t.rank) {
            if (s.otherRankBatches++ === 0) this.o.log?.({ msg: 'kv events: batches of another data-parallel rank are not credited to this endpoint', pod: t.id, endpoint: t.endpoint, rank: t.rank, batchRank: batch.dataParallelRank });
            return;
          }
          this.applyEvents(s, batch.events);
        },
        clear: (reason) => {
          for (const index of s.pools) index.clearPod(t.id);
          this.touch(s, [{ kind: 'cleared', pod: t.id }]);
          this.o.log?.({ msg: 'kv events: resync, pod entries dropped', pod: t.id, reason });
        },
      },
      replay,
      fail,
    );
    s.sub = transport.subscribe({ endpoint: t.endpoint, topic, onMessage: (m) => s.stream.receive(m), onError: fail });
    this.subs.set(t.id, s);
    s.stream.catchUp();
    return s;
  }

  private release(s: PodSub, index: KvBlockIndex): void {
    s.pools.delete(index);
    if (s.pools.size > 0) return;
    this.subs.delete(s.target.id);
    void s.sub.close();
  }
}
