/**
 * The KV-event transport over ZeroMQ for the agent: one SUB socket per pod
 * (connects, subscribes to a topic prefix) and, for a gap, a DEALER that asks
 * the pod's replay ROUTER for the missing batches (vLLM's framing: the
 * request is `[empty, start seq]`, each answer `[empty, seq, payload]`, the
 * end `[empty, -1, empty]`).
 */
import { Dealer, Subscriber } from 'zeromq';
import type { SeqMessage } from '../../kvevents/pod-stream.ts';
import type { KvEventSubscription, KvEventTransport, SubscriberOptions } from '../../kvevents/transport.ts';
import { seqBytes } from './zmq-publisher.ts';

const decoder = new TextDecoder();

function subscribe(o: SubscriberOptions): KvEventSubscription {
  const sub = new Subscriber({ linger: 0, receiveHighWaterMark: 100_000 });
  sub.connect(o.endpoint);
  sub.subscribe(o.topic);
  const loop = (async () => {
    try {
      for await (const frames of sub) {
        if (frames.length !== 3 || frames[1]!.length !== 8) {
          o.onError(`expected [topic, seq, payload], got ${frames.length} frames`);
          continue;
        }
        const [topic, seq, payload] = frames as [Buffer, Buffer, Buffer];
        o.onMessage({ seq: seq.readBigUInt64BE(0), payload: new Uint8Array(payload.buffer, payload.byteOffset, payload.length) }, decoder.decode(topic));
      }
    } catch (err) {
      if (!sub.closed) o.onError(`subscription to ${o.endpoint} failed: ${(err as Error).message}`);
    }
  })();
  return {
    async close() {
      sub.close();
      await loop;
    },
  };
}

async function* replay(endpoint: string, fromSeq: bigint, timeoutMs: number): AsyncIterable<SeqMessage> {
  const dealer = new Dealer({ linger: 0, receiveTimeout: timeoutMs, sendTimeout: timeoutMs });
  try {
    dealer.connect(endpoint);
    await dealer.send(['', seqBytes(fromSeq)]);
    for (;;) {
      const frames = await dealer.receive();
      if (frames.length !== 3) throw new Error(`replay answer has ${frames.length} frames, expected [empty, seq, payload]`);
      const seq = frames[1]!;
      if (seq.length !== 8) throw new Error('replay answer has no 8-byte sequence number');
      if (seq.readBigInt64BE(0) === -1n) return;
      const p = frames[2]!;
      yield { seq: seq.readBigUInt64BE(0), payload: new Uint8Array(p.buffer, p.byteOffset, p.length) };
    }
  } finally {
    dealer.close();
  }
}

export const zmqTransport: KvEventTransport = { subscribe, replay };
