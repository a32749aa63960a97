/**
 * The accepted routing table on disk, so that a restarted gateway serves the
 * same routes before anyone pushes again. Written whole and atomically (the
 * runtime's writeFileAtomic: write, fsync, rename); validated when read back.
 */
import type { RoutingTable } from '../routing/schema.ts';
import { validateTable } from '../routing/validate.ts';
import { formatProblem } from '../routing/problems.ts';
import type { RoutingTableStore } from '../routing/store.ts';
import type { StoredObject } from '../routing/object-store.ts';
import { fileFailure, stateDirFailure } from '../config/listen-failure.ts';

export interface TablePersistence {
  load(): Promise<RoutingTable | undefined>;
  /** The Kubernetes objects saved with the table (for get/describe after a restart); optional for older stores. */
  loadObjects?(): Promise<StoredObject[]>;
  save(table: RoutingTable, objects?: readonly StoredObject[]): Promise<void>;
}

export interface StateFiles {
  readFileText(path: string): Promise<string | undefined>;
  writeFileAtomic(path: string, text: string): Promise<void>;
}

export const STATE_FILE = 'routing-table.json';

export function stateDirPersistence(dir: string, files: StateFiles): TablePersistence {
  const path = `${dir.replace(/\/+$/, '')}/${STATE_FILE}`;
  const read = async (): Promise<{ table?: unknown; objects?: unknown } | undefined> => {
    const text = await files.readFileText(path);
    if (text === undefined) return undefined;
    try {
      return JSON.parse(text) as { table?: unknown; objects?: unknown };
    } catch (err) {
      throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
    }
  };
  return {
    async load() {
      const doc = await read();
      if (!doc) return undefined;
      const result = validateTable(doc.table);
      if (!result.ok) throw new Error(`${path} holds an invalid routing table: ${result.problems.map(formatProblem).join('; ')}`);
      return result.table;
    },
    async loadObjects() {
      const doc = await read();
      // Written by this gateway with the table; a file of an older version has none.
      return Array.isArray(doc?.objects) ? (doc.objects as StoredObject[]) : [];
    },
    async save(table, objects) {
      try {
        await files.writeFileAtomic(path, `${JSON.stringify({ kind: 'infergate.RoutingTable', savedAt: new Date().toISOString(), table, ...(objects?.length ? { objects } : {}) }, null, 2)}\n`);
      } catch (err) {
        // Said as at startup (--state-dir): the directory, the reason and its code, what to do; not the temporary file's raw error.
        const e = err as { code?: unknown; syscall?: unknown; path?: unknown; message?: unknown };
        // The table's own file is a directory: that path is what to fix, not the state dir (rename's EISDIR; Deno's has no syscall).
        if (e?.code === 'EISDIR') throw new Error(`${fileFailure({ code: e.code, syscall: e.syscall, path })}; the routing table is written there: remove it, or give another --state-dir`);
        const where = typeof e?.path === 'string' && !e.path.startsWith(path) ? e.path : dir;
        throw new Error(stateDirFailure({ code: e?.code, syscall: e?.syscall, message: e?.message, path: where }, dir, e?.syscall === 'mkdir' ? '' : 'cannot write in it: '));
      }
    },
  };
}

/** Install the persisted table, if any. Returns its version (0: none). */
export async function restoreTable(store: RoutingTableStore, persistence: TablePersistence): Promise<number> {
  const table = await persistence.load();
  if (!table) return 0;
  store.install(table);
  store.objects.restore((await persistence.loadObjects?.()) ?? []);
  return table.version;
}
