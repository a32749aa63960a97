/**
 * The KV-event publisher over ZeroMQ, as vLLM's ZmqEventPublisher runs it: a
 * PUB socket sending `[topic, seq, payload]` and, when a replay endpoint is
 * given, a ROUTER socket that answers `[empty, start seq]` with every batch
 * still in the ring (`[empty, seq, payload]` each) and `[empty, -1, empty]`.
 */
import { Publisher, Router } from 'zeromq';
import type { KvEventPublisher, PublisherOptions } from '../../kvevents/transport.ts';

const END_SEQ = new Uint8Array(8).fill(0xff);

/** ZeroMQ's spelling of "any free port" is `*`; accept `:0` as well. */
export function zmqAddress(endpoint: string): string {
  return endpoint.replace(/:0$/, ':*');
}

export function seqBytes(seq: bigint): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, seq, false);
  return b;
}

export async function openZmqPublisher(o: PublisherOptions): Promise<KvEventPublisher> {
  const pub = new Publisher({ sendHighWaterMark: o.hwm ?? 100_000, linger: 0 });
  let router: Router | undefined;
  try {
    if (o.bind) await pub.bind(zmqAddress(o.endpoint));
    else pub.connect(o.endpoint);
    if (o.replayEndpoint) {
      router = new Router({ linger: 0 });
      await router.bind(zmqAddress(o.replayEndpoint));
    }
  } catch (err) {
    pub.close();
    router?.close();
    throw new Error(`cannot open KV-event sockets at ${o.endpoint}${o.replayEndpoint ? ` / ${o.replayEndpoint}` : ''}: ${(err as Error).message}`);
  }
  const topic = new TextEncoder().encode(o.topic);
  // zeromq allows one send in flight per socket: sends queue behind each other.
  let tail: Promise<void> = Promise.resolve();
  const serving = router ? serveReplays(router, o) : Promise.resolve();
  return {
    endpoint: o.bind ? pub.lastEndpoint ?? o.endpoint : o.endpoint,
    replayEndpoint: router?.lastEndpoint ?? undefined,
    send(seq, payload) {
      if (pub.closed) return;
      tail = tail.then(() => pub.send([topic, seqBytes(seq), payload])).catch((err: Error) => {
        if (!pub.closed) console.error(JSON.stringify({ msg: 'kv events: publish failed', endpoint: o.endpoint, error: err.message }));
      });
    },
    async close() {
      await tail;
      pub.close();
      router?.close();
      await serving;
    },
  };
}

async function serveReplays(router: Router, o: PublisherOptions): Promise<void> {
  try {
    for await (const frames of router) {
      // [identity, empty delimiter, start seq]; anything else is not a replay request.
      if (frames.length !== 3 || frames[2]!.length !== 8) continue;
      const [id, , start] = frames as [Buffer, Buffer, Buffer];
      const from = start.readBigUInt64BE(0);
      for (const m of o.replayFrom(from)) await router.send([id, '', seqBytes(m.seq), m.payload]);
      await router.send([id, '', END_SEQ, '']);
    }
  } catch (err) {
    if (!router.closed) console.error(JSON.stringify({ msg: 'kv events: replay socket failed', endpoint: o.replayEndpoint, error: (err as Error).message }));
  }
}
