/**
 * RoutingService: push, read and watch the routing table. Applies are
 * serialised (check version → validate → persist → swap) so that of two
 * applies with the same expected_version exactly one wins, and a table that
 * could not be persisted is never installed.
 */
import { create } from '@bufbuild/protobuf';
import { Code, ConnectError, type ConnectRouter, type HandlerContext, type ServiceImpl } from '@connectrpc/connect';
import {
  ApplyRoutingTableResponseSchema,
  GetRoutingTableResponseSchema,
  RoutingService,
  ValidationProblemsSchema,
  WatchRoutingTableResponseSchema,
} from '../gen/infergate/v1/routing_pb.ts';
import type { ApplyResult, RoutingTableStore } from '../routing/store.ts';
import { ManifestObjectStore } from '../routing/object-store.ts';
import { formatProblem } from '../routing/problems.ts';
import type { TablePersistence } from './persistence.ts';
import { tableFromWire, tableToWire } from './table-wire.ts';
import { diffTables } from './object-diff.ts';
import { objectFromWire, objectToWire } from './manifest-wire.ts';
import { ObjectChange } from '../gen/infergate/v1/routing_pb.ts';
import { objectName } from '../routing/object-names.ts';

const CHANGES = { created: ObjectChange.CREATED, configured: ObjectChange.CONFIGURED, unchanged: ObjectChange.UNCHANGED, deleted: ObjectChange.DELETED } as const;

export interface RoutingServiceOptions {
  store: RoutingTableStore;
  persistence?: TablePersistence;
  log?: (line: Record<string, unknown>) => void;
  /** Set when the table comes from elsewhere (the Kubernetes API): Apply is refused, saying this. */
  readOnly?: string;
}

export function routingServiceRoutes({ store, persistence, log = () => {}, readOnly }: RoutingServiceOptions) {
  let queue: Promise<unknown> = Promise.resolve();
  const serialised = <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn, fn);
    queue = run.catch(() => undefined);
    return run;
  };

  return (router: ConnectRouter) => {
    router.service(RoutingService, {
      applyRoutingTable(req) {
        if (readOnly) throw new ConnectError(readOnly, Code.FailedPrecondition);
        if (!req.table) throw new ConnectError('table is required', Code.InvalidArgument);
        const input = tableFromWire(req.table);
        const expectedVersion = req.expectedVersion === undefined ? undefined : Number(req.expectedVersion);
        const manifestObjects = req.manifestObjects.length ? req.manifestObjects.map((o, i) => objectFromWire(o, i)) : undefined;
        return serialised(async () => {
          const before = store.current?.source;
          const result = store.apply(input, { expectedVersion, dryRun: true, objects: manifestObjects, allowEmpty: req.allowEmpty });
          if (!result.ok && result.reason === 'empty') {
            throw new ConnectError('the routing table has no routing object at all (no route, pool, objective, rewrite or model), so applying it would stop all traffic: send allow_empty (infergate apply --allow-empty) to clear the gateway on purpose', Code.FailedPrecondition);
          }
          if (!result.ok && result.reason === 'conflict') {
            throw new ConnectError(`the active routing table is version ${result.currentVersion}, not ${expectedVersion}: read it again and retry`, Code.Aborted);
          }
          if (!result.ok) {
            const problems = result.reason === 'invalid' ? result.problems : [];
            const summary = problems.slice(0, 3).map(formatProblem).join('; ') + (problems.length > 3 ? `; and ${problems.length - 3} more` : '');
            throw new ConnectError(`routing table rejected (${problems.length} problem${problems.length === 1 ? '' : 's'}): ${summary}`, Code.InvalidArgument, undefined, [
              { desc: ValidationProblemsSchema, value: { problems } },
            ]);
          }
          const objects = result.objects
            ? result.objects.map((o) => ({ object: objectName(o.object), namespace: o.object.namespace, change: CHANGES[o.change] }))
            : diffTables(before, result.table);
          if (req.dryRun || result.unchanged) return create(ApplyRoutingTableResponseSchema, { version: BigInt(store.version), dryRun: req.dryRun, objects });
          if (persistence) {
            try {
              // A table pushed without its objects is no longer described by the last apply's: they go.
              await persistence.save(result.table, result.objects ? keptObjects(result.objects, result.table.version) : []);
            } catch (err) {
              log({ level: 'error', msg: 'could not persist the routing table; not applied', error: (err as Error).message });
              throw new ConnectError(`could not persist the routing table, so it was not applied: ${(err as Error).message}`, Code.Unavailable);
            }
          }
          store.install(result.table);
          if (result.objects) store.objects.commit(result.objects, result.table.version, Date.now());
          else store.objects.restore([]);
          log({ level: 'info', msg: 'routing table applied', version: result.table.version });
          return create(ApplyRoutingTableResponseSchema, { version: BigInt(result.table.version), objects });
        });
      },

      ...readMethods(store),
    });
  };
}

/** The objects an apply will leave in force, as they will be kept (for persisting before the swap). */
function keptObjects(changes: NonNullable<Extract<ApplyResult, { ok: true }>['objects']>, version: number) {
  const preview = new ManifestObjectStore();
  preview.commit(changes.map((c) => ({ ...c, object: { ...c.object, events: [...c.object.events.map((e) => ({ ...e }))] } })), version, Date.now());
  return preview.list();
}

/**
 * Read-only RoutingService (get and watch; apply answers unimplemented): what
 * gateway workers follow on the primary's internal listener.
 */
export function routingReadRoutes(store: RoutingTableStore) {
  return (router: ConnectRouter) => {
    router.service(RoutingService, readMethods(store));
  };
}

function readMethods(store: RoutingTableStore): Pick<ServiceImpl<typeof RoutingService>, 'getRoutingTable' | 'watchRoutingTable'> {
  return {
    getRoutingTable() {
      const current = store.current;
      return create(GetRoutingTableResponseSchema, current ? { table: tableToWire(current.source), manifestObjects: store.objects.list().map(objectToWire) } : {});
    },

    async *watchRoutingTable(_req, ctx: HandlerContext) {
      let wake: (() => void) | undefined;
      const unsubscribe = store.subscribe(() => wake?.());
      const onAbort = () => wake?.();
      ctx.signal.addEventListener('abort', onAbort, { once: true });
      try {
        let sent: unknown;
        while (!ctx.signal.aborted) {
          const current = store.current;
          if (current && current !== sent) {
            sent = current;
            yield create(WatchRoutingTableResponseSchema, { table: tableToWire(current.source) });
            continue; // a newer table may have landed while the reader was slow
          }
          await new Promise<void>((resolve) => {
            wake = resolve;
            if (ctx.signal.aborted) resolve();
          });
        }
      } finally {
        ctx.signal.removeEventListener('abort', onAbort);
        unsubscribe();
      }
    },
  };
}
