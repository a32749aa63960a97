/**
 * Ports for moving KV events between processes. vLLM uses ZeroMQ: a PUB
 * socket sending `[topic, seq (8 bytes, big-endian), msgpack payload]`, and
 * a ROUTER socket answering `[empty, start seq (8 bytes)]` with one
 * `[empty, seq, payload]` message per buffered batch and an end marker
 * `[empty, -1 (8 bytes), empty]`. The adapters live in src/runtime/node/
 * (the `zeromq` package is Node-only); the core only sees these interfaces.
 */
import type { SeqMessage } from './pod-stream.ts';

export interface PublisherOptions {
  /** `tcp://host:port`; vLLM binds when the host is `*` (this one binds on `bindHost` then). */
  endpoint: string;
  replayEndpoint?: string;
  /** Bind (the engine is the stable side) or connect (a consumer binds, llm-d's global socket). */
  bind: boolean;
  topic: string;
  /** ZeroMQ send high-water mark (vLLM's `hwm`, 100 000). */
  hwm?: number;
  /** The batches a replay request from `fromSeq` gets, oldest first. */
  replayFrom(fromSeq: bigint): Iterable<SeqMessage>;
}

export interface KvEventPublisher {
  /** The PUB address actually bound or connected (a `:0` port resolved). */
  readonly endpoint: string;
  readonly replayEndpoint: string | undefined;
  send(seq: bigint, payload: Uint8Array): void;
  close(): Promise<void>;
}

export type OpenPublisher = (options: PublisherOptions) => Promise<KvEventPublisher>;

export interface SubscriberOptions {
  endpoint: string;
  /** ZeroMQ prefix filter; "" takes every topic. */
  topic: string;
  onMessage(msg: SeqMessage, topic: string): void;
  onError(message: string): void;
}

export interface KvEventSubscription {
  close(): Promise<void>;
}

export interface KvEventTransport {
  subscribe(options: SubscriberOptions): KvEventSubscription;
  /** Batches from `fromSeq` on, from a replay endpoint; ends at the end marker, throws after `timeoutMs` of silence. */
  replay(endpoint: string, fromSeq: bigint, timeoutMs: number): AsyncIterable<SeqMessage>;
}

/** The last `capacity` batches published, for the replay socket (vLLM's `buffer_steps`, 10 000). */
export class ReplayRing {
  private readonly seqs: bigint[];
  private readonly payloads: Uint8Array[];
  private start = 0;
  private count = 0;

  constructor(readonly capacity = 10_000) {
    this.seqs = new Array<bigint>(capacity);
    this.payloads = new Array<Uint8Array>(capacity);
  }

  push(seq: bigint, payload: Uint8Array): void {
    const at = (this.start + this.count) % this.capacity;
    this.seqs[at] = seq;
    this.payloads[at] = payload;
    if (this.count < this.capacity) this.count++;
    else this.start = (this.start + 1) % this.capacity;
  }

  *from(fromSeq: bigint): Iterable<SeqMessage> {
    for (let k = 0; k < this.count; k++) {
      const at = (this.start + k) % this.capacity;
      if (this.seqs[at]! >= fromSeq) yield { seq: this.seqs[at]!, payload: this.payloads[at]! };
    }
  }

  get size(): number {
    return this.count;
  }
}
