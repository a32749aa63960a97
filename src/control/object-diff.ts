/** What an apply changes, object by object, as `kubectl apply` reports it. */
import { ObjectChange } from '../gen/infergate/v1/routing_pb.ts';
import type { RoutingTable } from '../routing/schema.ts';

export interface ObjectResult {
  object: string;
  change: ObjectChange;
}

const sections = [
  ['routes', 'Route'],
  ['pools', 'Pool'],
  ['models', 'Model'],
  ['objectives', 'Objective'],
] as const;

function index(table: RoutingTable | undefined, section: (typeof sections)[number][0]): Map<string, string> {
  const out = new Map<string, string>();
  for (const item of table?.[section] ?? []) {
    const key = section === 'models' ? `${item.name}@${(item as { pool: string }).pool}` : item.name;
    out.set(key, JSON.stringify(item));
  }
  return out;
}

export function diffTables(before: RoutingTable | undefined, after: RoutingTable): ObjectResult[] {
  const out: ObjectResult[] = [];
  for (const [section, kind] of sections) {
    const old = index(before, section);
    const now = index(after, section);
    const label = (key: string) => `${kind}/${key.split('@')[0]}`;
    for (const [key, json] of now) {
      const prev = old.get(key);
      out.push({ object: label(key), change: prev === undefined ? ObjectChange.CREATED : prev === json ? ObjectChange.UNCHANGED : ObjectChange.CONFIGURED });
    }
    for (const key of old.keys()) if (!now.has(key)) out.push({ object: label(key), change: ObjectChange.DELETED });
  }
  return out;
}
