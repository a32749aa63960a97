/**
 * A pool's scheduling profile (the `infergate.dev/scheduling-profile`
 * annotation) must be one the gateway has: checked when a table is applied,
 * so a misspelt profile is refused with the names there are, instead of the
 * pool quietly running the default one.
 */
import type { Problem } from '../routing/problems.ts';
import type { RoutingTable } from '../routing/schema.ts';

export function missingProfiles(table: RoutingTable, profiles: readonly string[]): Problem[] {
  const known = new Set(profiles);
  return table.pools.flatMap((p, i) =>
    p.profile === undefined || known.has(p.profile)
      ? []
      : [{ object: `Pool/${p.name}`, path: `pools[${i}].profile`, message: `scheduling profile "${p.profile}" (annotation infergate.dev/scheduling-profile) does not exist; this gateway has: ${profiles.join(', ')}. Add it to --scheduling-config, or fix the annotation` }],
  );
}
