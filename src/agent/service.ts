/**
 * EndpointService: the agent's snapshots over Connect / gRPC / gRPC-Web.
 * Requests are validated here, at the edge.
 */
import * as v from 'valibot';
import { Code, ConnectError, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { create } from '@bufbuild/protobuf';
import { EndpointService, GetEndpointsResponseSchema, WatchEndpointsResponseSchema } from '../gen/infergate/v1/endpoint_pb.ts';
import type { PoolSelector } from '../endpoints/types.ts';
import { protocolFromWire, toWireSnapshot } from '../endpoints/wire.ts';
import type { AppProtocol as WireAppProtocol } from '../gen/infergate/v1/routing_pb.ts';
import type { MetricsAgent } from './agent.ts';
import { watchPool, type WatchOptions } from './watch.ts';
import { issuePath } from '../routing/problems.ts';

const Port = v.pipe(v.number(), v.integer(), v.minValue(1, 'must be 1-65535'), v.maxValue(65535, 'must be 1-65535'));
const PoolRequest = v.object({
  selector: v.record(v.string(), v.string()),
  targetPorts: v.array(Port),
});

/** A request's pool: a selector, or the wire's (its protocol as a number, its name in `pool`). */
export type WirePoolRequest = (PoolSelector | (Omit<PoolSelector, 'appProtocol'> & { appProtocol: WireAppProtocol })) & { pool?: string };

/** A pool selector from a request, validated at this edge (InvalidArgument saying which field). */
export function readPoolRequest(req: WirePoolRequest): PoolSelector {
  const parsed = v.safeParse(PoolRequest, { selector: req.selector, targetPorts: req.targetPorts });
  if (!parsed.success) {
    const detail = parsed.issues.map((i) => `${issuePath(i)}: ${i.message}`).join('; ');
    throw new ConnectError(`invalid pool selector: ${detail}`, Code.InvalidArgument);
  }
  const protocol = typeof req.appProtocol === 'number' ? protocolFromWire(req.appProtocol) : (req.appProtocol ?? 'http');
  // The name says the pool's namespace, which decides which discovered pods are its own.
  const name = req.pool || req.name;
  return { ...parsed.output, ...(protocol === 'h2c' ? { appProtocol: 'h2c' as const } : {}), ...(name ? { name } : {}) };
}

export function endpointServiceRoutes(agent: MetricsAgent, options: WatchOptions & { subscribed?: () => () => void } = {}) {
  return (router: ConnectRouter) => {
    router.service(EndpointService, {
      async *watchEndpoints(req, ctx: HandlerContext) {
        const pool = readPoolRequest(req);
        const closed = options.subscribed?.();
        try {
          for await (const view of watchPool(agent, pool, ctx.signal, options)) {
            yield create(WatchEndpointsResponseSchema, { snapshot: toWireSnapshot(view.endpoints, view.at, view.changeSeq) });
          }
        } finally {
          closed?.();
        }
      },
      async getEndpoints(req) {
        const view = agent.view(readPoolRequest(req));
        return create(GetEndpointsResponseSchema, { snapshot: toWireSnapshot(view.endpoints, view.at, view.changeSeq) });
      },
    });
  };
}
