/**
 * One pod's KV-event stream as a subscriber must read it: batches carry a
 * sequence number (8 bytes, big-endian, from 0 when the publisher starts);
 * a gap means the SUB socket dropped messages (high-water mark, slow joiner,
 * reconnect). A gap is healed from the pod's replay socket when it has one
 * and its ring still holds the missing batches; otherwise the pod's entries
 * are dropped (resync) and the stream goes on from what arrives — an index
 * that forgets is wrong in the safe direction (a missed hit), one that keeps
 * stale blocks is not.
 */
import { decodeBatch } from './codec.ts';
import type { KvEventBatch } from './events.ts';

export interface SeqMessage {
  seq: bigint;
  payload: Uint8Array;
}

/** Asks the pod's replay socket for every batch from `fromSeq` on; ends at the end-of-replay marker. */
export type ReplayFn = (fromSeq: bigint) => AsyncIterable<SeqMessage>;

export interface PodStreamSink {
  apply(batch: KvEventBatch): void;
  /** Forget everything this pod holds. */
  clear(reason: string): void;
}

export interface PodStreamStats {
  batches: number;
  events: number;
  gaps: number;
  replays: number;
  replayedBatches: number;
  resyncs: number;
  decodeErrors: number;
  /** Next sequence number expected (-1: nothing yet). */
  nextSeq: number;
  /** `ts` of the last batch applied, ms since the epoch (0: none). */
  lastEventMs: number;
}

export class PodEventStream {
  private expected: bigint | null = null;
  private replaying = false;
  private buffered: SeqMessage[] = [];
  readonly stats: PodStreamStats = { batches: 0, events: 0, gaps: 0, replays: 0, replayedBatches: 0, resyncs: 0, decodeErrors: 0, nextSeq: -1, lastEventMs: 0 };
  /** Settles when the replay in progress (if any) is over; for tests. */
  idle: Promise<void> = Promise.resolve();

  constructor(
    private readonly sink: PodStreamSink,
    private readonly replay?: ReplayFn,
    private readonly onError: (message: string) => void = () => {},
  ) {}

  /**
   * Asks the replay socket for everything from the start: a subscriber that
   * joins a running engine learns what its ring still holds, even if the pod
   * publishes nothing new for a while.
   */
  catchUp(): void {
    if (!this.replay || this.replaying || this.expected !== null) return;
    this.replaying = true;
    this.idle = this.runReplay(0n);
  }

  /** A message from the SUB socket. */
  receive(msg: SeqMessage): void {
    if (this.replaying) {
      this.buffered.push(msg);
      return;
    }
    const expected = this.expected;
    if (expected === null ? msg.seq === 0n : msg.seq === expected) return this.take(msg);
    if (expected !== null && msg.seq < expected) {
      // Seq 0 again: the engine restarted, its cache is new and empty. Anything else is a repeat.
      if (msg.seq === 0n) {
        this.resync('the publisher restarted (sequence back to 0)');
        this.take(msg);
      }
      return;
    }
    this.stats.gaps++;
    const from = expected ?? 0n;
    if (!this.replay) {
      this.resync(`sequence gap ${from}..${msg.seq - 1n} and no replay endpoint`);
      return this.take(msg);
    }
    this.buffered.push(msg);
    this.replaying = true;
    this.idle = this.runReplay(from);
  }

  private async runReplay(from: bigint): Promise<void> {
    this.stats.replays++;
    try {
      let first = true;
      for await (const m of this.replay!(from)) {
        if (first && m.seq > from) this.resync(`replay ring starts at ${m.seq}, after the missing ${from}`);
        first = false;
        if (this.expected !== null && m.seq < this.expected) continue;
        this.stats.replayedBatches++;
        this.take(m);
      }
    } catch (err) {
      this.onError(`replay from ${from} failed: ${(err as Error).message}`);
    }
    this.replaying = false;
    const pending = this.buffered;
    this.buffered = [];
    for (const m of pending) {
      if (this.expected !== null && m.seq < this.expected) continue;
      if (this.expected !== null && m.seq > this.expected) this.resync(`batches ${this.expected}..${m.seq - 1n} are neither live nor in the replay ring`);
      this.take(m);
    }
  }

  private resync(reason: string): void {
    this.stats.resyncs++;
    this.sink.clear(reason);
  }

  private take(msg: SeqMessage): void {
    this.expected = msg.seq + 1n;
    this.stats.nextSeq = Number(this.expected);
    let batch: KvEventBatch;
    try {
      batch = decodeBatch(msg.payload);
    } catch (err) {
      this.stats.decodeErrors++;
      this.onError(`batch ${msg.seq}: ${(err as Error).message}`);
      return;
    }
    this.stats.batches++;
    this.stats.events += batch.events.length;
    this.stats.lastEventMs = batch.ts * 1000;
    this.sink.apply(batch);
  }
}
