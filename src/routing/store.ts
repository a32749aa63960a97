/**
 * The active routing table, and the Kubernetes objects it came from. Swapped
 * whole and atomically: a request reads `store.current` once and finishes on
 * that table even if a new one lands.
 */
import { compileTable, type CompiledTable } from './compile.ts';
import { validateTable } from './validate.ts';
import type { Problem } from './problems.ts';
import type { RoutingTable } from './schema.ts';
import type { ObjectStatus } from './object-status.ts';
import { ManifestObjectStore, type ObjectChange } from './object-store.ts';

export type ApplyResult =
  | {
      ok: true;
      version: number;
      table: RoutingTable;
      /** The table and the objects are those in force: nothing to install, the version stays. */
      unchanged?: boolean;
      /** Per Kubernetes object, when the apply carried them. */
      objects?: ObjectChange[];
    }
  | { ok: false; reason: 'invalid'; problems: Problem[] }
  | { ok: false; reason: 'empty' }
  | { ok: false; reason: 'conflict'; currentVersion: number };

export interface ApplyOptions {
  /** Apply only if the active version is this one (optimistic concurrency). */
  expectedVersion?: number;
  dryRun?: boolean;
  /** The Kubernetes objects the table was converted from: kept for get/describe; an apply that changes neither them nor the table keeps the version. */
  objects?: readonly ObjectStatus[];
  /** Accept a table with no routing object (default true; the admin API and `--manifests` refuse one unless asked). */
  allowEmpty?: boolean;
}

/** A check the table must pass beyond its own validity (e.g. every pool's scheduling profile exists). */
export type TableCheck = (table: RoutingTable) => Problem[];

type Listener = (table: CompiledTable) => void;

export class RoutingTableStore {
  #current: CompiledTable | undefined;
  #listeners = new Set<Listener>();
  #check: TableCheck | undefined;
  /** The objects of the last apply that carried them. */
  readonly objects = new ManifestObjectStore();

  /** The active table, or undefined before the first one is accepted. */
  get current(): CompiledTable | undefined {
    return this.#current;
  }

  get version(): number {
    return this.#current?.version ?? 0;
  }

  /** Add a check every later apply must pass (the gateway sets one for scheduling profiles). */
  setCheck(check: TableCheck | undefined): void {
    this.#check = check;
  }

  /** Validate and (unless dry-run) install a table. Version is assigned here: previous + 1. */
  apply(input: unknown, options: ApplyOptions = {}): ApplyResult {
    if (options.expectedVersion !== undefined && options.expectedVersion !== this.version) {
      return { ok: false, reason: 'conflict', currentVersion: this.version };
    }
    const result = validateTable(input);
    if (!result.ok) return { ok: false, reason: 'invalid', problems: result.problems };
    const extra = this.#check?.(result.table) ?? [];
    if (extra.length) return { ok: false, reason: 'invalid', problems: extra };
    const t = result.table;
    if (options.allowEmpty === false && !t.routes.length && !t.pools.length && !t.models.length && !t.objectives.length && !t.rewrites.length) {
      return { ok: false, reason: 'empty' };
    }
    const objects = options.objects ? this.objects.diff(options.objects) : undefined;
    const current = this.#current;
    if (objects && current && objects.every((o) => o.change === 'unchanged') && sameTable(current.source, t)) {
      return { ok: true, version: current.version, table: current.source, unchanged: true, objects };
    }
    const table = { ...t, version: this.version + 1 };
    if (options.dryRun) return { ok: true, version: this.version, table, ...(objects ? { objects } : {}) };
    this.install(table);
    if (objects) this.objects.commit(objects, table.version, Date.now());
    return { ok: true, version: table.version, table, ...(objects ? { objects } : {}) };
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

function sameTable(a: RoutingTable, b: RoutingTable): boolean {
  return JSON.stringify({ ...a, version: 0 }) === JSON.stringify({ ...b, version: 0 });
}
