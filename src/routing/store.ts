/**
 * The active routing table. Swapped whole and atomically: a request reads
 * `store.current` once and finishes on that table even if a new one lands.
 */
import { compileTable, type CompiledTable } from './compile.ts';
import { validateTable } from './validate.ts';
import type { Problem } from './problems.ts';
import type { RoutingTable } from './schema.ts';

export type ApplyResult =
  | { ok: true; version: number; table: RoutingTable }
  | { ok: false; reason: 'invalid'; problems: Problem[] }
  | { ok: false; reason: 'conflict'; currentVersion: number };

export interface ApplyOptions {
  /** Apply only if the active version is this one (optimistic concurrency). */
  expectedVersion?: number;
  dryRun?: boolean;
}

type Listener = (table: CompiledTable) => void;

export class RoutingTableStore {
  #current: CompiledTable | undefined;
  #listeners = new Set<Listener>();

  /** The active table, or undefined before the first one is accepted. */
  get current(): CompiledTable | undefined {
    return this.#current;
  }

  get version(): number {
    return this.#current?.version ?? 0;
  }

  /** Validate and (unless dry-run) install a table. Version is assigned here: previous + 1. */
  apply(input: unknown, options: ApplyOptions = {}): ApplyResult {
    if (options.expectedVersion !== undefined && options.expectedVersion !== this.version) {
      return { ok: false, reason: 'conflict', currentVersion: this.version };
    }
    const result = validateTable(input);
    if (!result.ok) return { ok: false, reason: 'invalid', problems: result.problems };
    const table = { ...result.table, version: this.version + 1 };
    if (options.dryRun) return { ok: true, version: this.version, table };
    this.install(table);
    return { ok: true, version: table.version, table };
  }

  /** Install an already validated table as is (e.g. restored from disk), keeping its version. */
  install(table: RoutingTable): void {
    this.#current = compileTable(table);
    for (const listener of this.#listeners) listener(this.#current);
  }

  subscribe(listener: Listener): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }
}
