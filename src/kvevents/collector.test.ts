/**
 * The collector credits each endpoint with its own data-parallel rank's
 * events (vLLM names the rank in every batch) and tells watchers what the
 * index changed, not what the events said.
 */
import { describe, expect, it } from 'vitest';
import { KvEventsCollector } from './collector.ts';
import { encodeBatch } from './codec.ts';
import type { KvEvent } from './events.ts';
import type { IndexUpdate } from './index-updates.ts';
import type { KvEventTransport, SubscriberOptions } from './transport.ts';

/** Sockets in memory: a batch published on an address reaches every subscriber of that address. */
function memoryTransport() {
  const subs: SubscriberOptions[] = [];
  const seqs = new Map<string, bigint>();
  const transport: KvEventTransport = {
    subscribe(o) {
      subs.push(o);
      return { close: async () => void subs.splice(subs.indexOf(o), 1) };
    },
    replay() {
      throw new Error('no replay here');
    },
  };
  const publish = (endpoint: string, events: KvEvent[], dataParallelRank: number | null) => {
    const seq = seqs.get(endpoint) ?? 0n;
    seqs.set(endpoint, seq + 1n);
    const payload = encodeBatch({ ts: 1, events, dataParallelRank });
    for (const s of subs.filter((x) => x.endpoint === endpoint)) s.onMessage({ seq, payload }, '');
  };
  return { transport, publish };
}

const stored = (hashes: bigint[], groupIdx: number | null = 0): KvEvent => ({ type: 'BlockStored', blockHashes: hashes, parentBlockHash: null, tokenIds: [], blockSize: 16, loraId: null, medium: 'GPU', loraName: null, groupIdx });

describe('KvEventsCollector', () => {
  it('credits a batch to the endpoint of the rank it names when ranks share an address', () => {
    const { transport, publish } = memoryTransport();
    const collector = new KvEventsCollector({ transport });
    const shared = 'tcp://10.0.0.7:5557';
    collector.setPoolPods('p', [
      { id: '10.0.0.7:8000', endpoint: shared, rank: 0 },
      { id: '10.0.0.7:8001', endpoint: shared, rank: 1 },
    ]);
    publish(shared, [stored([1n])], 0);
    publish(shared, [stored([2n])], 1);
    const index = collector.index('p');
    expect(index.blocksOf('10.0.0.7:8000')).toEqual([1n]);
    expect(index.blocksOf('10.0.0.7:8001')).toEqual([2n]);
    expect(collector.podStates('p').map((s) => [s.id, s.otherRankBatches])).toEqual([['10.0.0.7:8000', 1], ['10.0.0.7:8001', 1]]);
    // An address of its own carries one rank's stream, credited whatever rank it names (a multi-node DP pod's start at 4).
    collector.setPoolPods('q', [{ id: '10.0.0.8:8000', endpoint: 'tcp://10.0.0.8:5561' }]);
    publish('tcp://10.0.0.8:5561', [stored([3n])], 4);
    expect(collector.index('q').blocksOf('10.0.0.8:8000')).toEqual([3n]);
  });

  it('watchers get what the index changed: a repeated store is no change, the one removal is', () => {
    const { transport, publish } = memoryTransport();
    const collector = new KvEventsCollector({ transport });
    const endpoint = 'tcp://10.0.0.9:5557';
    collector.setPoolPods('p', [{ id: 'pod', endpoint }]);
    const seen: IndexUpdate[][] = [];
    collector.watch('p', (u) => void seen.push(u));
    publish(endpoint, [stored([7n])], 0);
    publish(endpoint, [stored([7n]), stored([7n])], 0);
    publish(endpoint, [{ type: 'BlockRemoved', blockHashes: [7n], medium: 'GPU', groupIdx: 0 }], 0);
    expect(seen).toEqual([[{ kind: 'stored', pod: 'pod', medium: 'GPU', hashes: [7n] }], [], [{ kind: 'removed', pod: 'pod', medium: 'GPU', hashes: [7n] }]]);
    expect(collector.index('p').blocksOf('pod')).toEqual([]);
  });
});
