/**
 * `infergate get`: what a running gateway has, as kubectl shows it.
 * - Kubernetes resources by their own names: `inferencepools` (`infpool`),
 *   `httproutes`, `inferenceobjectives`, `inferencemodelrewrites`,
 *   `inferencemodels`, `gateways` (`gtw`), `referencegrants` — the objects
 *   the last apply sent, with their status; `get KIND NAME`, `-n NAMESPACE`,
 *   `-o yaml|json|wide`.
 * - The gateway's own views: `routes`, `pools`, `models` (the routing table)
 *   and `endpoints` (the pods it sees, with live metrics).
 */
import { ConnectError, Code } from '@connectrpc/connect';
import { stringify as toYaml } from 'yaml';
import { commandFlags, FlagError, type FlagSpec } from '../../config/flags.ts';
import { environment, readFileText } from '../../runtime/node/index.ts';
import { adminClients, adminFlags } from '../../rpc/admin-client.ts';
import { tableFromWire } from '../../control/table-wire.ts';
import { storedFromWire } from '../../control/manifest-wire.ts';
import { wirePool } from '../../endpoints/wire.ts';
import { validateTable } from '../../routing/validate.ts';
import type { RoutingTable } from '../../routing/schema.ts';
import type { StoredObject } from '../../routing/object-store.ts';
import { asKubernetesObject, resourceFor, RESOURCES, specOf, type Resource } from '../resources.ts';

export const getFlags = {
  ...adminFlags,
  output: { type: 'string', default: '', help: 'yaml, json or wide (-o)' },
  namespace: { type: 'string', default: '', help: 'only objects of this namespace (-n); default: all' },
  'all-namespaces': { type: 'boolean', help: 'objects of every namespace (-A; the default)' },
  help: { type: 'boolean', help: 'show this help' },
} satisfies FlagSpec;
const views = ['routes', 'pools', 'models', 'endpoints'] as const;
type View = (typeof views)[number];
const OUTPUTS = ['', 'yaml', 'json', 'wide'];

/** kubectl's short flags (`-o yaml`, `-o=json`, `-n ns`, `-A`) as this command's long ones. */
export function kubectlFlags(args: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^-(o|n)(?:=(.*))?$/.exec(a) ?? /^-(o)(yaml|json|wide)$/.exec(a);
    if (m) out.push(m[1] === 'o' ? '--output' : '--namespace', m[2] ?? args[++i] ?? '');
    else if (a === '-A') out.push('--all-namespaces');
    else out.push(a);
  }
  return out;
}

export function formatTable(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('   ').trimEnd();
  return [line(header), ...rows.map(line)].join('\n');
}

const labels = (m: Record<string, string>) => Object.entries(m).map(([k, v]) => `${k}=${v}`).join(',') || '<all>';

function rowsOf(kind: Exclude<View, 'endpoints'>, t: RoutingTable): [string[], string[][]] {
  if (kind === 'routes') {
    const rows = t.routes.flatMap((r) =>
      r.rules.map((rule, i) => [
        r.name,
        String(i),
        (r.hostnames.length ? `host:${r.hostnames.join(',')} ` : '') +
          rule.matches
            .map((m) => [`${m.method ? `${m.method} ` : ''}${m.path.type}:${m.path.value}`, ...m.headers.map((h) => `${h.name}${h.type === 'Exact' ? '=' : '~'}${h.value}`), ...m.queryParams.map((q) => `?${q.name}${q.type === 'Exact' ? '=' : '~'}${q.value}`)].join(' '))
            .join(' | '),
        rule.backendRefs.map((b) => `${b.pool}(${b.weight})`).join(','),
      ]),
    );
    return [['NAME', 'RULE', 'MATCHES', 'BACKENDS'], rows];
  }
  if (kind === 'pools') {
    return [['NAME', 'SELECTOR', 'PORTS', 'PROTOCOL', 'FAILURE MODE', 'PROFILE'], t.pools.map((p) => [p.name, labels(p.selector), p.targetPorts.join(','), p.appProtocol === 'h2c' ? 'h2c' : 'http', p.failureMode, p.profile ?? 'default'])];
  }
  return [
    ['NAME', 'POOL', 'CRITICALITY', 'PRIORITY', 'TARGETS'],
    [
      ...t.models.map((m) => [m.name, m.pool, m.criticality, m.priority === undefined ? '-' : String(m.priority), m.targetModels.map((x) => `${x.name}(${x.weight})`).join(',') || '-']),
      ...t.rewrites.flatMap((w) => w.rules.flatMap((r) => (r.models.length ? r.models : ['*']).map((m) => [m, w.pool, '-', '-', r.targets.map((x) => `${x.model}(${x.weight})`).join(',')]))),
    ],
  ];
}

/** Objects of one resource, as a table or as Kubernetes objects. */
export function renderObjects(resource: Resource, objects: StoredObject[], output: string): string {
  if (output === 'yaml' || output === 'json') {
    const items = objects.map(asKubernetesObject);
    const doc = items.length === 1 ? items[0] : { apiVersion: 'v1', kind: 'List', items };
    return output === 'json' ? JSON.stringify(doc, null, 2) : toYaml(doc).trimEnd();
  }
  const wide = output === 'wide';
  const header = ['NAMESPACE', 'NAME', ...resource.columns, ...(wide ? resource.wide : [])];
  const rows = objects.map((o) => [o.namespace, o.name, ...resource.row(o, specOf(o)), ...(wide ? resource.rowWide(o, specOf(o)) : [])]);
  return formatTable(header, rows);
}

export async function run(args: string[]): Promise<number> {
  const names = `${views.join('|')}|${RESOURCES.map((r) => r.plural).join('|')}`;
  const flags = commandFlags(`get ${names} [NAME]`, kubectlFlags(args), getFlags, environment(), {
    check(f) {
      const kind = f._[0];
      if (!kind) throw new FlagError('say what to get');
      if (!views.includes(kind as View) && !resourceFor(kind)) throw new FlagError(`cannot get "${kind}": the gateway has ${names}`);
      if (!OUTPUTS.includes(f.output)) throw new FlagError(`-o must be yaml, json or wide, not "${f.output}"`);
    },
  });
  if (typeof flags === 'number') return flags;
  const [kind, name] = flags._ as [string, string | undefined];
  const token = flags.token || (flags['token-file'] ? (await readFileText(flags['token-file']))?.trim() : undefined);
  const { routing, endpoints } = adminClients(flags.server, token);
  try {
    const res = await routing.getRoutingTable({});
    if (!res.table) {
      console.error('no routing table yet: push one with infergate apply -f manifests.yaml');
      return 1;
    }
    const resource = resourceFor(kind);
    if (resource && !views.includes(kind as View)) {
      const objects = res.manifestObjects.map(storedFromWire).filter((o) => o.kind === resource.kind && (!flags.namespace || o.namespace === flags.namespace) && (!name || o.name === name));
      if (objects.length === 0) {
        const why = res.manifestObjects.length ? `no ${resource.plural}${name ? ` named "${name}"` : ''}${flags.namespace ? ` in namespace "${flags.namespace}"` : ''}` : 'the routing table was pushed without its Kubernetes objects (only infergate apply and --manifests send them); try get routes, pools or models';
        console.error(`${name ? 'Error from server (NotFound)' : 'No resources found'}: ${why}`);
        return name ? 1 : 0;
      }
      console.log(renderObjects(resource, objects, flags.output));
      return 0;
    }
    const parsed = validateTable(tableFromWire(res.table));
    if (!parsed.ok) throw new Error('the gateway returned a routing table this client cannot read');
    const table = parsed.table;
    if (kind !== 'endpoints') {
      if (flags.output === 'json' || flags.output === 'yaml') {
        const section = kind === 'models' ? { models: table.models, rewrites: table.rewrites } : table[kind as 'routes' | 'pools'];
        console.log(flags.output === 'json' ? JSON.stringify(section, null, 2) : toYaml(section).trimEnd());
        return 0;
      }
      const [header, rows] = rowsOf(kind as Exclude<View, 'endpoints'>, table);
      console.log(formatTable(header, rows));
      return 0;
    }
    const rows: string[][] = [];
    const now = Date.now();
    for (const pool of table.pools) {
      const snap = (await endpoints.getEndpoints(wirePool(pool))).snapshot;
      for (const e of snap?.endpoints ?? []) {
        const m = e.metrics;
        const age = e.scrapedAtUnixMs ? `${Math.max(0, now - e.scrapedAtUnixMs)}ms` : '-';
        const models = e.servedModels?.models.map((x) => x.id).join(',') || '-';
        rows.push([pool.name, e.id, e.ready ? 'yes' : 'no', e.engine, m ? String(m.waiting) : '-', m ? String(m.running) : '-', m ? `${(m.kvUsage * 100).toFixed(1)}%` : '-', m?.activeAdapters.join(',') || '-', age, e.lastError || '', ...(flags.output === 'wide' ? [models] : [])]);
      }
    }
    console.log(formatTable(['POOL', 'ENDPOINT', 'READY', 'ENGINE', 'WAITING', 'RUNNING', 'KV', 'ADAPTERS', 'SCRAPED', 'LAST ERROR', ...(flags.output === 'wide' ? ['MODELS'] : [])], rows));
    return 0;
  } catch (err) {
    const e = ConnectError.from(err);
    console.error(`error: ${flags.server}: ${e.rawMessage}${e.code === Code.Unauthenticated ? '' : ` (${Code[e.code]})`}`);
    return 1;
  }
}
