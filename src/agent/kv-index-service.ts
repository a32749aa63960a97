/**
 * KvIndexService: the agent's precise prefix index over Connect. A pool's
 * pods are subscribed on its first request; where each pod publishes comes
 * from its endpoints-file entry (`kvEventsEndpoint`, `kvEventsReplayEndpoint`)
 * or, when unset, from a port convention on the pod's address (llm-d's
 * `socketPort`, 5557, vLLM's default `tcp://*:5557`), offset by the
 * endpoint's data-parallel rank.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter } from '@connectrpc/connect';
import {
  GetKvIndexStateResponseSchema,
  KvEventsPodStateSchema,
  KvIndexService,
  LookupPrefixResponseSchema,
  PrefixMatchSchema,
} from '../gen/infergate/v1/kv_index_pb.ts';
import { selectEndpoints, type EndpointEntry } from '../endpoints/file-schema.ts';
import { poolKey, type PoolSelector } from '../endpoints/types.ts';
import type { KvEventsCollector, KvPodTarget } from '../kvevents/collector.ts';
import type { MetricsAgent } from './agent.ts';
import { readPoolRequest, type WirePoolRequest } from './service.ts';
import { watchKvIndex, type WatchKvIndexOptions } from './kv-index-watch.ts';
import { urlHost } from '../endpoints/address.ts';

export interface KvEventsConvention {
  /** The PUB port on each pod's address when its entry names none (llm-d: 5557); data-parallel rank r publishes on port + r. */
  port: number;
  /** The replay port on each pod's address (rank r: + r); undefined: no replay unless the entry names one. */
  replayPort?: number;
}

/**
 * Where the pods of a pool publish KV events. A pod serving several of the
 * pool's target ports runs one engine (a data-parallel rank) per port, as
 * llm-d's router reads it: the endpoint on the r-th target port is rank r
 * (its `RankIndex`), and vLLM publishes rank r's events on the configured
 * port + r (`ZmqEventPublisher.offset_endpoint_port`), so the convention
 * subscribes each endpoint to its own rank's socket. Endpoints that share an
 * address anyway (one `kvEventsEndpoint` named for all of a pod's ports) are
 * told their rank, and credited only with the batches that carry it.
 */
export function kvTargets(entries: readonly EndpointEntry[], pool: PoolSelector, c: KvEventsConvention): KvPodTarget[] {
  const targets = selectEndpoints(entries, pool).map((e) => {
    const entry = entries.find((x) => x.address === e.address && (x.port === e.port || x.port === undefined));
    const host = urlHost(e.address);
    const rank = Math.max(0, pool.targetPorts.indexOf(e.port));
    return {
      id: `${e.address}:${e.port}`,
      endpoint: entry?.kvEventsEndpoint ?? `tcp://${host}:${c.port + rank}`,
      replayEndpoint: entry?.kvEventsReplayEndpoint ?? (c.replayPort ? `tcp://${host}:${c.replayPort + rank}` : undefined),
      rank,
    };
  });
  const sharing = new Map<string, number>();
  for (const t of targets) sharing.set(t.endpoint, (sharing.get(t.endpoint) ?? 0) + 1);
  // An address of its own carries one rank's stream whatever rank it names (a multi-node DP pod's ranks
  // need not start at 0): the rank is checked only where it tells endpoints apart.
  return targets.map(({ rank, ...t }): KvPodTarget => (sharing.get(t.endpoint)! > 1 ? { ...t, rank } : t));
}

const MAX_BLOCKS = 1 << 20;

/**
 * The pool's key in the collector, with its membership brought up to date
 * when the agent's endpoints changed (the first call for a pool subscribes
 * its pods). Shared by the service and the embedded agent's index source.
 */
export function kvPoolMembership(agent: MetricsAgent, collector: KvEventsCollector, convention: KvEventsConvention): (pool: PoolSelector) => string {
  const known = new Map<string, readonly EndpointEntry[]>();
  return (selector: PoolSelector): string => {
    const key = poolKey(selector);
    if (known.get(key) !== agent.entries) {
      collector.setPoolPods(key, kvTargets(agent.entries, selector, convention));
      known.set(key, agent.entries);
    }
    return key;
  };
}

export function kvIndexServiceRoutes(agent: MetricsAgent, collector: KvEventsCollector, convention: KvEventsConvention, watch: WatchKvIndexOptions = {}) {
  const membership = kvPoolMembership(agent, collector, convention);
  const pool = (req: WirePoolRequest): string => membership(readPoolRequest(req));
  return (router: ConnectRouter) => {
    router.service(KvIndexService, {
      watchKvIndex(req, ctx) {
        return watchKvIndex(collector, pool(req), ctx, watch);
      },
      async lookupPrefix(req) {
        if (req.blockHashes.length > MAX_BLOCKS) {
          throw new ConnectError(`block_hashes has ${req.blockHashes.length} entries; at most ${MAX_BLOCKS} (a ${MAX_BLOCKS}-block prompt)`, Code.InvalidArgument);
        }
        const key = pool(req);
        const hashes = BigUint64Array.from(req.blockHashes);
        const matches = collector.lookup(key, hashes, req.endpointIds.length > 0 ? req.endpointIds : undefined);
        return create(LookupPrefixResponseSchema, {
          matches: matches.map((m) => create(PrefixMatchSchema, { endpointId: m.pod, blocks: m.blocks, deviceBlocks: m.deviceBlocks })),
          indexUpdatedUnixMs: collector.updatedAt(key),
          eventsEnabled: true,
        });
      },
      async getKvIndexState(req) {
        const key = pool(req);
        const stats = collector.index(key).stats();
        return create(GetKvIndexStateResponseSchema, {
          indexUpdatedUnixMs: collector.updatedAt(key),
          indexBytes: BigInt(stats.bytes),
          indexEntries: BigInt(stats.entries),
          pods: collector.podStates(key).map((p) =>
            create(KvEventsPodStateSchema, {
              endpointId: p.id,
              eventsEndpoint: p.endpoint,
              replayEndpoint: p.replayEndpoint ?? '',
              nextSeq: BigInt(p.nextSeq),
              lastEventUnixMs: p.lastEventMs,
              blocks: BigInt(p.blocks),
              batches: BigInt(p.batches),
              gaps: BigInt(p.gaps),
              replays: BigInt(p.replays),
              resyncs: BigInt(p.resyncs),
              decodeErrors: BigInt(p.decodeErrors),
              lastError: p.lastError,
            }),
          ),
        });
      },
    });
  };
}
