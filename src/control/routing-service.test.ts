import { Code, ConnectError, createClient, createRouterTransport } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { RoutingService } from '../gen/infergate/v1/routing_pb.ts';
import { RoutingTableStore } from '../routing/store.ts';
import { routingServiceRoutes } from './routing-service.ts';

describe('RoutingService, read-only', () => {
  it('refuses Apply with the reason when the table comes from elsewhere, and still serves Get', async () => {
    const store = new RoutingTableStore();
    const client = createClient(RoutingService, createRouterTransport(routingServiceRoutes({ store, readOnly: 'the table comes from the Kubernetes API' })));
    const err = await client.applyRoutingTable({ table: {} }).catch((e: unknown) => ConnectError.from(e));
    expect(err).toBeInstanceOf(ConnectError);
    expect([(err as ConnectError).code, (err as ConnectError).rawMessage]).toEqual([Code.FailedPrecondition, 'the table comes from the Kubernetes API']);
    expect((await client.getRoutingTable({})).table).toBeUndefined();
  });
});
