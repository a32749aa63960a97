import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, createRouterTransport, type ConnectRouter, type HandlerContext } from '@connectrpc/connect';
import { RoutingService, WatchRoutingTableResponseSchema, type RoutingTable as WireTable } from '../gen/infergate/v1/routing_pb.ts';
import { importManifests } from '../routing/manifests.ts';
import type { RoutingTableInput } from '../routing/schema.ts';
import { RoutingTableStore } from '../routing/store.ts';
import { validateTable } from '../routing/validate.ts';
import { bearerAuth, sendBearer } from '../rpc/auth.ts';
import { routingReadRoutes } from './routing-service.ts';
import { TableFollower } from './table-follower.ts';
import { tableToWire } from './table-wire.ts';

const seed = importManifests(readFileSync(new URL('../../examples/seed-use-cases.yaml', import.meta.url), 'utf8')).table;
const withoutModel = (name: string): RoutingTableInput => ({ ...seed, models: seed.models!.filter((m) => m.name !== name) });

async function until(check: () => boolean, what: string, timeoutMs = 2000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`not within ${timeoutMs} ms: ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** A leader whose WatchRoutingTable streams exactly what the test sends, and fails when told. */
class ScriptedLeader {
  connections = 0;
  readonly #streams = new Set<{ push(item: WireTable | Error): void }>();

  routes = (router: ConnectRouter) => {
    const self = this;
    router.service(RoutingService, {
      async *watchRoutingTable(_req, ctx: HandlerContext) {
        self.connections++;
        const queue: (WireTable | Error)[] = [];
        let wake: (() => void) | undefined;
        const stream = { push: (item: WireTable | Error) => (queue.push(item), wake?.()) };
        self.#streams.add(stream);
        try {
          while (!ctx.signal.aborted) {
            const item = queue.shift();
            if (item instanceof Error) throw item;
            if (item) yield create(WatchRoutingTableResponseSchema, { table: item });
            else await new Promise<void>((resolve) => (wake = resolve));
          }
        } finally {
          self.#streams.delete(stream);
        }
      },
    });
  };

  get open(): number {
    return this.#streams.size;
  }

  send(table: WireTable | Error): void {
    for (const s of this.#streams) s.push(table);
  }
}

describe('TableFollower', () => {
  it('installs the leader table with its version, then every later apply', async () => {
    const leader = new RoutingTableStore();
    const valid = validateTable(seed);
    if (!valid.ok) throw new Error('the seed table is invalid');
    leader.install({ ...valid.table, version: 7 });
    const store = new RoutingTableStore();
    const follower = new TableFollower({ store, url: 'http://leader.invalid', transport: createRouterTransport(routingReadRoutes(leader)) });
    try {
      expect(await follower.firstTable(2000)).toBe(true);
      expect(store.version).toBe(7);
      expect(store.current!.modelNames).toContain('spanish-bot');
      expect(follower.connected).toBe(true);

      const applied = leader.apply(withoutModel('spanish-bot'));
      expect(applied.ok).toBe(true);
      await until(() => store.version === 8, 'version 8 followed');
      expect(store.current!.modelNames).not.toContain('spanish-bot');
      expect(store.current!.source).toEqual(leader.current!.source);
    } finally {
      follower.close();
    }
  });

  it('ignores an invalid table (keeping the last one) and says why', async () => {
    const leader = new ScriptedLeader();
    const store = new RoutingTableStore();
    const lines: Record<string, unknown>[] = [];
    const follower = new TableFollower({ store, url: 'http://leader.invalid', transport: createRouterTransport(leader.routes), log: (l) => lines.push(l) });
    try {
      await until(() => leader.open === 1, 'stream open');
      leader.send(tableToWire({ ...seed, version: 3 }));
      expect(await follower.firstTable(2000)).toBe(true);
      const broken = { ...seed, version: 4, routes: [{ ...seed.routes![0]!, rules: [{ backendRefs: [{ pool: 'nowhere' }] }] }] };
      leader.send(tableToWire(broken as RoutingTableInput));
      leader.send(tableToWire({ ...withoutModel('english-bot'), version: 5 }));
      await until(() => store.version === 5, 'version 5 followed');
      expect(lines).toEqual([expect.objectContaining({ level: 'warn', version: 4, problems: [expect.stringMatching(/nowhere/)] })]);
      expect(leader.connections).toBe(1);
    } finally {
      follower.close();
    }
  });

  it('keeps the last table while the stream is down, and reconnects', async () => {
    const leader = new ScriptedLeader();
    const store = new RoutingTableStore();
    const lines: Record<string, unknown>[] = [];
    const follower = new TableFollower({ store, url: 'http://leader.invalid', transport: createRouterTransport(leader.routes), backoffInitialMs: 5, backoffMaxMs: 20, log: (l) => lines.push(l) });
    try {
      await until(() => leader.open === 1, 'stream open');
      leader.send(tableToWire({ ...seed, version: 2 }));
      await until(() => store.version === 2, 'version 2 followed');
      leader.send(new ConnectError('leader restarting', Code.Unavailable));
      await until(() => leader.connections === 2 && leader.open === 1, 'reconnected');
      expect(store.version).toBe(2);
      // The leader re-sends its table on reconnect; an identical one is not recompiled.
      const compiled = store.current;
      leader.send(tableToWire({ ...seed, version: 2 }));
      leader.send(tableToWire({ ...withoutModel('chatbot'), version: 3 }));
      await until(() => store.version === 3, 'version 3 followed after the reconnect');
      expect(compiled).not.toBe(store.current);
      // A reconnect that works at once is not worth a log line.
      expect(lines).toEqual([]);
    } finally {
      follower.close();
    }
  });

  it('sends its bearer token; a leader that refuses it leaves the store empty and the follower says why', async () => {
    const leader = new RoutingTableStore();
    leader.apply(seed);
    const routes = routingReadRoutes(leader);
    const good = new RoutingTableStore();
    const follower = new TableFollower({ store: good, url: 'http://leader.invalid', transport: createRouterTransport(routes, { router: { interceptors: [bearerAuth('right')] }, transport: { interceptors: [sendBearer('right')] } }) });
    const lines: Record<string, unknown>[] = [];
    const bad = new RoutingTableStore();
    const refused = new TableFollower({ store: bad, url: 'http://leader.invalid', backoffInitialMs: 5, backoffMaxMs: 20, log: (l) => lines.push(l), transport: createRouterTransport(routes, { router: { interceptors: [bearerAuth('right')] }, transport: { interceptors: [sendBearer('wrong')] } }) });
    try {
      expect(await follower.firstTable(2000)).toBe(true);
      expect(await refused.firstTable(200)).toBe(false);
      expect(bad.current).toBeUndefined();
      expect(refused.connected).toBe(false);
      expect(lines).toEqual([expect.objectContaining({ level: 'warn', msg: expect.stringMatching(/lost/), error: expect.stringMatching(/bearer token/) })]);
    } finally {
      follower.close();
      refused.close();
    }
  });

  it('close() ends a pending wait for the first table', async () => {
    const follower = new TableFollower({ store: new RoutingTableStore(), url: 'http://leader.invalid', transport: createRouterTransport(new ScriptedLeader().routes) });
    const waiting = follower.firstTable(10_000);
    follower.close();
    expect(await waiting).toBe(false);
  });
});
