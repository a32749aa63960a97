import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Code, ConnectError, createClient, type Interceptor } from '@connectrpc/connect';
import { createConnectTransport, createGrpcWebTransport } from '@connectrpc/connect-node';
import { RoutingService, ValidationProblemsSchema } from '../src/gen/infergate/v1/routing_pb.ts';
import { createAdminApp, constantTimeEqual, restoreTable, stateDirPersistence, tableFromWire, tableToWire } from '../src/control/index.ts';
import { RoutingTableStore } from '../src/routing/store.ts';
import { validateTable } from '../src/routing/validate.ts';
import { importManifests } from '../src/routing/manifests.ts';
import { listen, readFileText, stateDirProblem, writeFileAtomic, type Listening } from '../src/runtime/node/index.ts';
import type { RoutingTableInput } from '../src/routing/schema.ts';

const seed = importManifests(readFileSync(new URL('../examples/seed-use-cases.yaml', import.meta.url), 'utf8')).table;
const TOKEN = 's3cret-token';
const withToken =
  (token: string): Interceptor =>
  (next) =>
  (req) => {
    req.header.set('authorization', `Bearer ${token}`);
    return next(req);
  };

describe('routing table on the wire', () => {
  it('round-trips the seed use cases to the same validated table', () => {
    const direct = validateTable(seed);
    const viaWire = validateTable(tableFromWire(tableToWire(seed)));
    expect(direct.ok).toBe(true);
    expect(viaWire).toEqual(direct);
  });

  it('keeps unknown enum names and negative weights so validation names them', () => {
    const bad = { pools: [{ name: 'p', selector: {}, targetPorts: [8000] }], models: [{ name: 'm', pool: 'p', criticality: 'Urgent', targetModels: [{ name: 'a', weight: -1 }] }] };
    const result = validateTable(tableFromWire(tableToWire(bad as RoutingTableInput)));
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.problems.map((p) => p.path).sort()).toEqual(['models[0].criticality', 'models[0].targetModels[0].weight']);
  });

  it('constant-time compare', () => {
    expect(constantTimeEqual('abc', 'abc')).toBe(true);
    expect(constantTimeEqual('abc', 'abd')).toBe(false);
    expect(constantTimeEqual('abc', 'abcd')).toBe(false);
    expect(constantTimeEqual('', '')).toBe(true);
    expect(constantTimeEqual('é', 'e')).toBe(false);
  });
});

describe('RoutingService on the admin port', () => {
  let dir: string;
  let store: RoutingTableStore;
  let server: Listening;
  let baseUrl: string;
  const client = (token?: string, grpcWeb = false) => {
    const interceptors = token ? [withToken(token)] : [];
    const transport = grpcWeb ? createGrpcWebTransport({ baseUrl, httpVersion: '1.1', interceptors }) : createConnectTransport({ baseUrl, httpVersion: '1.1', interceptors });
    return createClient(RoutingService, transport);
  };

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'infergate-state-'));
    store = new RoutingTableStore();
    const app = createAdminApp({ store, token: TOKEN, persistence: stateDirPersistence(dir, { readFileText, writeFileAtomic }) });
    server = await listen(app.fetch, 0);
    baseUrl = `http://127.0.0.1:${server.port}`;
  });
  afterAll(async () => {
    await server.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses calls without the token or with a wrong one', async () => {
    for (const c of [client(), client('wrong'), client(`${TOKEN}x`), client(undefined, true)]) {
      const err = await c.getRoutingTable({}).catch((e: unknown) => ConnectError.from(e));
      expect(err).toBeInstanceOf(ConnectError);
      expect((err as ConnectError).code).toBe(Code.Unauthenticated);
    }
    expect(store.current).toBeUndefined();
  });

  it('dry run reports and changes nothing; apply installs version 1; get returns it', async () => {
    const c = client(TOKEN);
    const dry = await c.applyRoutingTable({ table: tableToWire(seed), dryRun: true });
    expect(dry.dryRun).toBe(true);
    expect(store.current).toBeUndefined();
    const res = await c.applyRoutingTable({ table: tableToWire(seed), expectedVersion: 0n });
    expect(res.version).toBe(1n);
    expect(res.objects.map((o) => o.object)).toContain('Pool/gemma3');
    expect(store.version).toBe(1);
    const got = await c.getRoutingTable({});
    expect(got.table!.pools.map((p) => p.name).sort()).toEqual(['deepseek-r1', 'gemma3']);
  });

  it('rejects an invalid table whole with every problem named; the active table is untouched', async () => {
    const bad = structuredClone(seed) as RoutingTableInput & Record<string, any>;
    bad.routes![0]!.rules[0]!.backendRefs[0]!.pool = 'missing-pool';
    bad.routes![0]!.rules[0]!.backendRefs[0]!.weight = -3;
    bad.models![0]!.criticality = 'Urgent' as never;
    const err = await client(TOKEN, true)
      .applyRoutingTable({ table: tableToWire(bad) })
      .then(() => new ConnectError('accepted'), (e: unknown) => ConnectError.from(e));
    expect(err.code).toBe(Code.InvalidArgument);
    const problems = err.findDetails(ValidationProblemsSchema)[0]!.problems;
    const paths = problems.map((p) => `${p.object} ${p.path}`);
    expect(paths.some((p) => p.includes('backendRefs[0].weight'))).toBe(true);
    expect(paths.some((p) => p.includes('models[0].criticality'))).toBe(true);
    expect(store.version).toBe(1);
  });

  it('two concurrent applies with the same expected_version: exactly one wins', async () => {
    const c = client(TOKEN);
    const results = await Promise.allSettled(Array.from({ length: 5 }, () => c.applyRoutingTable({ table: tableToWire(seed), expectedVersion: 1n })));
    const won = results.filter((r) => r.status === 'fulfilled');
    const lost = results.filter((r) => r.status === 'rejected').map((r) => ConnectError.from((r as PromiseRejectedResult).reason));
    expect(won).toHaveLength(1);
    expect(lost.every((e) => e.code === Code.Aborted)).toBe(true);
    expect(store.version).toBe(2);
  });

  it('watch sends the current table at once and each new version', async () => {
    const abort = new AbortController();
    const versions: bigint[] = [];
    const stream = client(TOKEN).watchRoutingTable({}, { signal: abort.signal });
    const done = (async () => {
      try {
        for await (const msg of stream) {
          versions.push(msg.table!.version);
          if (versions.length === 1) await client(TOKEN).applyRoutingTable({ table: tableToWire({ ...seed, models: seed.models!.slice(1) }) });
          if (versions.length === 2) break;
        }
      } finally {
        abort.abort();
      }
    })();
    await done;
    expect(versions).toEqual([2n, 3n]);
  });

  it('persists the accepted table; a new store restores it with its version', async () => {
    const restored = new RoutingTableStore();
    const version = await restoreTable(restored, stateDirPersistence(dir, { readFileText, writeFileAtomic }));
    expect(version).toBe(3);
    expect(restored.current!.source).toEqual(store.current!.source);
  });
});

describe('a state dir in a state it was not left in', () => {
  it('a routing-table.json that is a directory is named, and no temporary file is left beside it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infergate-state-'));
    mkdirSync(join(dir, 'routing-table.json'));
    const err = await stateDirPersistence(dir, { readFileText, writeFileAtomic }).save(seed as never).then(() => undefined, (e: Error) => e);
    expect(err?.message).toBe(`${dir}/routing-table.json: is a directory, not a file (EISDIR, rename); the routing table is written there: remove it, or give another --state-dir`);
    expect(readdirSync(dir)).toEqual(['routing-table.json']);
    rmSync(dir, { recursive: true });
  });

  it('a write-check file left by a killed run (same pid: pid 1 in a container) does not stop the next start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'infergate-state-'));
    writeFileSync(join(dir, `.infergate-write-check-${process.pid}`), '');
    expect(await stateDirProblem(dir)).toBeUndefined();
    rmSync(dir, { recursive: true });
  });
});

describe.skipIf(process.platform !== 'linux')('a state dir that cannot be created', () => {
  it('writeFileAtomic says why, at once (Node’s mkdir(recursive) loops forever on /proc/nope)', async () => {
    const started = Date.now();
    const err = await writeFileAtomic('/proc/nope/state/routing-table.json', '{}').then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err).toMatchObject({ code: 'ENOENT', syscall: 'mkdir', path: '/proc/nope' });
    expect(Date.now() - started).toBeLessThan(2000);
  }, 5000);

  it('apply answers Unavailable, nothing is installed, and the admin API keeps answering and closes', async () => {
    const store = new RoutingTableStore();
    const app = createAdminApp({ store, token: TOKEN, persistence: stateDirPersistence('/proc/nope', { readFileText, writeFileAtomic }) });
    const server = await listen(app.fetch, 0);
    try {
      const client = createClient(RoutingService, createConnectTransport({ baseUrl: `http://127.0.0.1:${server.port}`, httpVersion: '1.1', interceptors: [withToken(TOKEN)] }));
      const err = await client.applyRoutingTable({ table: tableToWire(seed) }).then(
        () => new ConnectError('accepted'),
        (e: unknown) => ConnectError.from(e),
      );
      expect(err.code).toBe(Code.Unavailable);
      expect(err.rawMessage).toBe('could not persist the routing table, so it was not applied: /proc/nope: cannot be created there (ENOENT, mkdir); give a directory this user can create and write in');
      expect(store.version).toBe(0);
      expect((await client.getRoutingTable({})).table).toBeUndefined();
    } finally {
      await server.close();
    }
  }, 5000);
});
