/**
 * The accepted routing table on disk, so that a restarted gateway serves the
 * same routes before anyone pushes again. Written whole and atomically (the
 * runtime's writeFileAtomic: write, fsync, rename); validated when read back.
 */
import type { RoutingTable } from '../routing/schema.ts';
import { validateTable } from '../routing/validate.ts';
import { formatProblem } from '../routing/problems.ts';
import type { RoutingTableStore } from '../routing/store.ts';

export interface TablePersistence {
  load(): Promise<RoutingTable | undefined>;
  save(table: RoutingTable): Promise<void>;
}

export interface StateFiles {
  readFileText(path: string): Promise<string | undefined>;
  writeFileAtomic(path: string, text: string): Promise<void>;
}

export const STATE_FILE = 'routing-table.json';

export function stateDirPersistence(dir: string, files: StateFiles): TablePersistence {
  const path = `${dir.replace(/\/+$/, '')}/${STATE_FILE}`;
  return {
    async load() {
      const text = await files.readFileText(path);
      if (text === undefined) return undefined;
      let doc: { table?: unknown };
      try {
        doc = JSON.parse(text) as { table?: unknown };
      } catch (err) {
        throw new Error(`${path} is not valid JSON: ${(err as Error).message}`);
      }
      const result = validateTable(doc.table);
      if (!result.ok) throw new Error(`${path} holds an invalid routing table: ${result.problems.map(formatProblem).join('; ')}`);
      return result.table;
    },
    async save(table) {
      await files.writeFileAtomic(path, `${JSON.stringify({ kind: 'infergate.RoutingTable', savedAt: new Date().toISOString(), table }, null, 2)}\n`);
    },
  };
}

/** Install the persisted table, if any. Returns its version (0: none). */
export async function restoreTable(store: RoutingTableStore, persistence: TablePersistence): Promise<number> {
  const table = await persistence.load();
  if (!table) return 0;
  store.install(table);
  return table.version;
}
