/**
 * The models a set of pools serves, from what each model server lists at
 * its `/v1/models` (the agent reads it): base models and LoRA adapters, each
 * once, with the base model an adapter runs on (vLLM's `parent`).
 */
import type { PoolSnapshot } from '../endpoints/types.ts';

export interface ServedModelEntry {
  id: string;
  /** The base model of a LoRA adapter. */
  parent?: string;
  /** The pools serving it (table names). */
  pools: string[];
}

export function servedModelsOf(snapshots: readonly PoolSnapshot[]): ServedModelEntry[] {
  const byId = new Map<string, ServedModelEntry>();
  for (const snap of snapshots) {
    for (const e of snap.endpoints) {
      for (const m of e.models ?? []) {
        let entry = byId.get(m.id);
        if (!entry) byId.set(m.id, (entry = { id: m.id, ...(m.parent ? { parent: m.parent } : {}), pools: [] }));
        if (!entry.pools.includes(snap.pool)) entry.pools.push(snap.pool);
      }
    }
  }
  return [...byId.values()].sort((a, b) => a.id.localeCompare(b.id));
}
