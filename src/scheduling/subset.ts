/**
 * The candidates a caller allows: llm-d's `x-gateway-destination-endpoint-subset`
 * (`envoy.lb.subset_hint` in Envoy's metadata) lists the `ip:port`
 * endpoints the picker may choose from. Only those of the pool's snapshot
 * remain; when none of them is a ready endpoint of the pool the request is
 * unavailable (503), as llm-d answers.
 */
import type { PoolSnapshot } from '../endpoints/types.ts';

/** The snapshot with only the endpoints the subset names (`ip:port`, or a bare `ip` for all its ports). */
export function restrictToSubset(snapshot: PoolSnapshot, subset: readonly string[]): PoolSnapshot {
  const wanted = new Set(subset.map(normalise));
  return {
    ...snapshot,
    endpoints: snapshot.endpoints.filter((e) => wanted.has(normalise(e.id)) || wanted.has(`${bare(e.address)}:${e.port}`) || wanted.has(bare(e.address))),
  };
}

/** `[::1]:3000` → `::1:3000`; anything else as is. */
function normalise(item: string): string {
  const m = /^\[([^\]]+)\](?::(\d+))?$/.exec(item.trim());
  if (m) return m[2] ? `${m[1]}:${m[2]}` : m[1]!;
  return item.trim();
}

function bare(address: string): string {
  return address.startsWith('[') && address.endsWith(']') ? address.slice(1, -1) : address;
}
