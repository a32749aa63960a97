/**
 * `infergate get routes|pools|models|endpoints`: what a running gateway has,
 * as tables.
 */
import { ConnectError, Code } from '@connectrpc/connect';
import { commandFlags, FlagError, type FlagSpec } from '../../config/flags.ts';
import { environment, readFileText } from '../../runtime/node/index.ts';
import { adminClients, adminFlags } from '../../rpc/admin-client.ts';
import { tableFromWire } from '../../control/table-wire.ts';
import { validateTable } from '../../routing/validate.ts';
import type { RoutingTable } from '../../routing/schema.ts';

export const getFlags = { ...adminFlags, help: { type: 'boolean', help: 'show this help' } } satisfies FlagSpec;
const kinds = ['routes', 'pools', 'models', 'endpoints'] as const;
type Kind = (typeof kinds)[number];

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const labels = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `${k}=${v}`).join(',') || '<all>';

function rowsOf(kind: Exclude<Kind, 'endpoints'>, t: RoutingTable): [string[], string[][]] {
  if (kind === 'routes') {
    const rows = t.routes.flatMap((r) =>
      r.rules.map((rule, i) => [
        r.name,
        String(i),
        rule.matches.map((m) => [`${m.path.type}:${m.path.value}`, ...m.headers.map((h) => `${h.name}${h.type === 'Exact' ? '=' : '~'}${h.value}`)].join(' ')).join(' | '),
        rule.backendRefs.map((b) => `${b.pool}(${b.weight})`).join(','),
      ]),
    );
    return [['NAME', 'RULE', 'MATCHES', 'BACKENDS'], rows];
  }
  if (kind === 'pools') {
    return [['NAME', 'SELECTOR', 'PORTS', 'FAILURE MODE', 'PROFILE'], t.pools.map((p) => [p.name, labels(p.selector), p.targetPorts.join(','), p.failureMode, p.profile ?? 'default'])];
  }
  return [
    ['NAME', 'POOL', 'CRITICALITY', 'PRIORITY', 'TARGETS'],
    t.models.map((m) => [m.name, m.pool, m.criticality, m.priority === undefined ? '-' : String(m.priority), m.targetModels.map((x) => `${x.name}(${x.weight})`).join(',') || '-']),
  ];
}

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('get routes|pools|models|endpoints', args, getFlags, environment(), {
    check(f) {
      const kind = f._[0];
      if (!kind || !kinds.includes(kind as Kind)) throw new FlagError(kind ? `cannot get "${kind}"` : 'say what to get');
    },
  });
  if (typeof flags === 'number') return flags;
  const kind = flags._[0] as Kind;
  const token = flags.token || (flags['token-file'] ? (await readFileText(flags['token-file']))?.trim() : undefined);
  const { routing, endpoints } = adminClients(flags.server, token);
  try {
    const res = await routing.getRoutingTable({});
    if (!res.table) {
      console.error('no routing table yet: push one with infergate apply -f manifests.yaml');
      return 1;
    }
    const parsed = validateTable(tableFromWire(res.table));
    if (!parsed.ok) throw new Error('the gateway returned a routing table this client cannot read');
    const table = parsed.table;
    if (kind !== 'endpoints') {
      const [header, rows] = rowsOf(kind, table);
      console.log(formatTable(header, rows));
      return 0;
    }
    const rows: string[][] = [];
    const now = Date.now();
    for (const pool of table.pools) {
      const snap = (await endpoints.getEndpoints({ pool: pool.name, selector: pool.selector, targetPorts: pool.targetPorts })).snapshot;
      for (const e of snap?.endpoints ?? []) {
        const m = e.metrics;
        const age = e.scrapedAtUnixMs ? `${Math.max(0, now - e.scrapedAtUnixMs)}ms` : '-';
        rows.push([pool.name, e.id, e.ready ? 'yes' : 'no', e.engine, m ? String(m.waiting) : '-', m ? String(m.running) : '-', m ? `${(m.kvUsage * 100).toFixed(1)}%` : '-', m?.activeAdapters.join(',') || '-', age, e.lastError || '']);
      }
    }
    console.log(formatTable(['POOL', 'ENDPOINT', 'READY', 'ENGINE', 'WAITING', 'RUNNING', 'KV', 'ADAPTERS', 'SCRAPED', 'LAST ERROR'], rows));
    return 0;
  } catch (err) {
    const e = ConnectError.from(err);
    console.error(`error: ${flags.server}: ${e.rawMessage}${e.code === Code.Unauthenticated ? '' : ` (${Code[e.code]})`}`);
    return 1;
  }
}
