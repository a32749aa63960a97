/**
 * The routing table at the edge: bundled into the Worker at deploy time
 * (bundle-table.ts), or taken from a control-plane gateway's admin API
 * (RoutingService.GetRoutingTable, bearer token) and asked again after a TTL.
 * A failed fetch keeps the table the isolate has.
 */
import { ConnectError } from '@connectrpc/connect';
import { tableFromWire } from '../../control/table-wire.ts';
import { formatProblem } from '../../routing/problems.ts';
import type { RoutingTableStore } from '../../routing/store.ts';
import { validateTable } from '../../routing/validate.ts';
import type { BundledTable } from './bundled.ts';
import type { EdgeConfig } from './config.ts';
import { controlPlaneClient } from './connect.ts';

export class EdgeTable {
  #fetchedAt = 0;
  #fetching: Promise<void> | undefined;
  /** Why the table could not be loaded, for /readyz. */
  problem: string | undefined;

  constructor(
    private readonly store: RoutingTableStore,
    private readonly config: EdgeConfig,
    bundled: BundledTable,
  ) {
    if (config.controlPlaneUrl) return;
    if (!bundled.table) {
      this.problem = 'no routing table: build the Worker with INFERGATE_MANIFESTS set, or set INFERGATE_CONTROL_PLANE';
      return;
    }
    const result = validateTable(bundled.table);
    if (result.ok) store.install(result.table);
    else this.problem = `the bundled routing table (${bundled.source}) is invalid: ${result.problems.map(formatProblem).join('; ')}`;
  }

  /** Make sure the table is current enough: waits only when the isolate has none yet. */
  async ensure(): Promise<void> {
    if (!this.config.controlPlaneUrl || Date.now() - this.#fetchedAt < this.config.tableTtlMs) return;
    this.#fetching ??= this.#fetch().finally(() => (this.#fetching = undefined));
    if (!this.store.current) await this.#fetching;
  }

  async #fetch(): Promise<void> {
    try {
      const res = await controlPlaneClient(this.config.controlPlaneUrl!, this.config.token).getRoutingTable({}, { timeoutMs: 3000 });
      if (!res.table) {
        this.problem = `the control plane ${this.config.controlPlaneUrl} has no routing table yet`;
        return;
      }
      const result = validateTable(tableFromWire(res.table));
      if (!result.ok) {
        this.problem = `the control plane's table is invalid: ${result.problems.map(formatProblem).join('; ')}`;
        return;
      }
      if (result.table.version !== this.store.version || !this.store.current) this.store.install(result.table);
      this.problem = undefined;
    } catch (err) {
      this.problem = `cannot reach the control plane ${this.config.controlPlaneUrl}: ${ConnectError.from(err).rawMessage}`;
    } finally {
      this.#fetchedAt = Date.now();
    }
  }
}
