/** The routing table as bundle-table.ts writes it into the Worker at deploy time. */
import type { RoutingTable } from '../../routing/schema.ts';

export interface BundledTable {
  /** Null when the Worker was built without manifests (then it needs INFERGATE_CONTROL_PLANE). */
  table: RoutingTable | null;
  source: string;
  builtAt: string;
}
