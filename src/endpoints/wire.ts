/**
 * Endpoint snapshots on the wire (infergate.v1.EndpointSnapshot) and back.
 * Times travel as the agent's clock; the receiver re-bases them on its own
 * clock by the snapshot's `at`, so clock skew between hosts does not make
 * fresh metrics look stale (or stale ones fresh).
 */
import { create } from '@bufbuild/protobuf';
import { EndpointSnapshotSchema, type EndpointSnapshot } from '../gen/infergate/v1/endpoint_pb.ts';
import { AppProtocol as WireAppProtocol } from '../gen/infergate/v1/routing_pb.ts';
import type { AppProtocol, Endpoint, PoolRef } from './types.ts';

/** A pool as an EndpointService request names it: selector, ports, protocol and name. */
export function wirePool(pool: PoolRef): { selector: Record<string, string>; targetPorts: number[]; pool: string; appProtocol: WireAppProtocol } {
  return { selector: pool.selector, targetPorts: pool.targetPorts, pool: pool.name, appProtocol: pool.appProtocol === 'h2c' ? WireAppProtocol.H2C : WireAppProtocol.HTTP };
}

/** A request's protocol back: h2c, or HTTP/1.1 for anything else (unspecified included). */
export function protocolFromWire(p: WireAppProtocol): AppProtocol {
  return p === WireAppProtocol.H2C ? 'h2c' : 'http';
}

export function toWireSnapshot(endpoints: readonly Endpoint[], at: number, sequence: number): EndpointSnapshot {
  return create(EndpointSnapshotSchema, {
    atUnixMs: at,
    sequence,
    endpoints: endpoints.map((e) => ({
      id: e.id,
      address: e.address,
      port: e.port,
      labels: e.labels,
      ready: e.ready,
      engine: e.engine,
      metrics: e.metrics,
      scrapedAtUnixMs: e.scrapedAt ?? 0,
      lastError: e.lastError ?? '',
      servedModels: e.models ? { models: e.models.map((m) => ({ id: m.id, parent: m.parent ?? '' })) } : undefined,
    })),
  });
}

/** Endpoints from a snapshot, with times moved to the local clock (`receivedAt` ↔ the snapshot's `at`). */
export function fromWireSnapshot(snapshot: EndpointSnapshot, receivedAt: number): Endpoint[] {
  const skew = snapshot.atUnixMs ? receivedAt - snapshot.atUnixMs : 0;
  return snapshot.endpoints.map((e) => {
    const endpoint: Endpoint = {
      id: e.id || `${e.address}:${e.port}`,
      address: e.address,
      port: e.port,
      labels: { ...e.labels },
      ready: e.ready,
      engine: e.engine || 'vllm',
    };
    if (e.metrics) {
      const m = e.metrics;
      endpoint.metrics = {
        waiting: m.waiting,
        running: m.running,
        kvUsage: m.kvUsage,
        activeAdapters: [...m.activeAdapters],
        waitingAdapters: [...m.waitingAdapters],
        maxAdapters: m.maxAdapters,
        blockSize: m.blockSize,
        totalBlocks: m.totalBlocks,
      };
    }
    if (e.scrapedAtUnixMs) endpoint.scrapedAt = Math.min(receivedAt, e.scrapedAtUnixMs + skew);
    if (e.lastError) endpoint.lastError = e.lastError;
    if (e.servedModels) endpoint.models = e.servedModels.models.map((m) => (m.parent ? { id: m.id, parent: m.parent } : { id: m.id }));
    return endpoint;
  });
}
