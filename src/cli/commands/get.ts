/**
 * `infergate get`: what a running gateway has, as kubectl shows it.
 * - Kubernetes resources by their own names: `inferencepools` (`infpool`),
 *   `httproutes`, `inferenceobjectives`, `inferencemodelrewrites`,
 *   `inferencemodels`, `gateways` (`gtw`), `referencegrants` — the objects
 *   the last apply sent, with their status; `get KIND NAME`, `-n NAMESPACE`,
 *   `-o yaml|json|wide`. As kubectl: `-o json|yaml` is a `List` (empty too)
 *   unless a NAME was asked for, and a NAME not there is NotFound, exit 1.
 * - The gateway's own views: `routes`, `pools`, `models` (the routing table)
 *   and `endpoints` (the pods it sees, with live metrics), each narrowed to
 *   NAME when one is given (`endpoints NAME`: pool NAME's); `-o json|yaml`
 *   gives the view's array (`models`: `{models, rewrites}`).
 */
import { stringify as toYaml } from 'yaml';
import { commandFlags, FlagError, valueAfter, type FlagSpec } from '../../config/flags.ts';
import { environment, readFileText } from '../../runtime/node/index.ts';
import { adminClients, adminError, adminFlags } from '../../rpc/admin-client.ts';
import { tableFromWire } from '../../control/table-wire.ts';
import { storedFromWire } from '../../control/manifest-wire.ts';
import { wirePool } from '../../endpoints/wire.ts';
import type { Endpoint as WireEndpoint } from '../../gen/infergate/v1/endpoint_pb.ts';
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

/**
 * kubectl's short flags (`-o yaml`, `-o=json`, `-n ns`, `-A`) as this command's long ones; `output: false` for a
 * command without `-o` (describe), whose `-o` is then refused as an unknown flag. A flag that takes a value — short,
 * or long in `spec` — with nothing after it, or another flag (`-n --server URL`), is refused as kubectl does
 * (`flag needs an argument: -n`), named as it was typed, not read as a value.
 */
export function kubectlFlags(args: string[], { output = true, spec = {} }: { output?: boolean; spec?: FlagSpec } = {}): string[] {
  const out: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const m = /^-(o|n)(?:=(.*))?$/.exec(a) ?? /^-(o)(yaml|json|wide)$/.exec(a);
    const long = /^--([^=]+)$/.exec(a)?.[1];
    const def = long !== undefined ? spec[long] : undefined;
    // As `--name=VALUE`: a value after "=" (`-n=-x`) stays a value.
    if (m && (output || m[1] !== 'o')) out.push(`${m[1] === 'o' ? '--output' : '--namespace'}=${m[2] ?? valueAfter(args, i++, `-${m[1]}`)}`);
    else if (def && def.type !== 'boolean') out.push(`${a}=${valueAfter(args, i++, a, def)}`);
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

/** kubectl's list of objects (`-o json|yaml` without a NAME): a `List` however many items, none included. */
export function kubernetesList(items: unknown[]): Record<string, unknown> {
  return { apiVersion: 'v1', kind: 'List', items, metadata: { resourceVersion: '' } };
}

/** kubectl's answer for a NAME that is not there. */
export function notFound(plural: string, name: string): string {
  return `Error from server (NotFound): ${plural} "${name}" not found`;
}

function serialize(doc: unknown, output: string): string {
  return output === 'json' ? JSON.stringify(doc, null, 2) : toYaml(doc).trimEnd();
}

/**
 * Objects of one resource, as a table or as Kubernetes objects: with `-o json|yaml`, kubectl's `List` unless one
 * object was asked for by NAME (`named`), which comes bare.
 */
export function renderObjects(resource: Resource, objects: StoredObject[], output: string, named = false): string {
  if (output === 'yaml' || output === 'json') {
    const items = objects.map(asKubernetesObject);
    return serialize(named && items.length === 1 ? items[0] : kubernetesList(items), output);
  }
  const wide = output === 'wide';
  const header = ['NAMESPACE', 'NAME', ...resource.columns, ...(wide ? resource.wide : [])];
  const rows = objects.map((o) => [o.namespace, o.name, ...resource.row(o, specOf(o)), ...(wide ? resource.rowWide(o, specOf(o)) : [])]);
  return formatTable(header, rows);
}

/** The part of the routing table a view shows, only what NAME names when one is given (a route, a pool, a model name). */
export function viewOf(kind: Exclude<View, 'endpoints'>, table: RoutingTable, name?: string): RoutingTable {
  if (name === undefined) return table;
  if (kind === 'routes') return { ...table, routes: table.routes.filter((r) => r.name === name) };
  if (kind === 'pools') return { ...table, pools: table.pools.filter((p) => p.name === name) };
  return {
    ...table,
    models: table.models.filter((m) => m.name === name),
    rewrites: table.rewrites.map((w) => ({ ...w, rules: w.rules.filter((r) => r.models.includes(name)) })).filter((w) => w.rules.length > 0),
  };
}

const isEmpty = (kind: Exclude<View, 'endpoints'>, t: RoutingTable) => (kind === 'models' ? t.models.length + t.rewrites.length === 0 : t[kind].length === 0);

/** One endpoint as `get endpoints -o json|yaml` shows it: what the table shows, field by field. */
function endpointItem(pool: string, e: WireEndpoint): Record<string, unknown> {
  const m = e.metrics;
  return {
    pool,
    id: e.id,
    address: e.address,
    port: e.port,
    labels: { ...e.labels },
    ready: e.ready,
    engine: e.engine,
    metrics: m ? { waiting: m.waiting, running: m.running, kvUsage: m.kvUsage, activeAdapters: [...m.activeAdapters], waitingAdapters: [...m.waitingAdapters], maxAdapters: m.maxAdapters, blockSize: m.blockSize, totalBlocks: m.totalBlocks } : null,
    scrapedAtUnixMs: e.scrapedAtUnixMs || null,
    lastError: e.lastError,
    consecutiveFailures: e.consecutiveFailures,
    servedModels: e.servedModels ? e.servedModels.models.map((x) => x.id) : null,
  };
}

export async function run(args: string[]): Promise<number> {
  const names = `${views.join('|')}|${RESOURCES.map((r) => r.plural).join('|')}`;
  const flags = commandFlags(`get ${names} [NAME]`, args, getFlags, environment(), {
    translate: (a) => kubectlFlags(a, { spec: getFlags }),
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
  const structured = flags.output === 'json' || flags.output === 'yaml';
  try {
    const res = await routing.getRoutingTable({});
    if (!res.table) {
      console.error('no routing table yet: push one with infergate apply -f manifests.yaml');
      return 1;
    }
    const resource = resourceFor(kind);
    if (resource && !views.includes(kind as View)) {
      const objects = res.manifestObjects.map(storedFromWire).filter((o) => o.kind === resource.kind && (!flags.namespace || o.namespace === flags.namespace) && (!name || o.name === name));
      const withoutObjects = res.manifestObjects.length === 0 ? 'the routing table was pushed without its Kubernetes objects (only infergate apply and --manifests send them); try get routes, pools or models' : undefined;
      if (name && objects.length === 0) {
        console.error(`${notFound(resource.plural, name)}${withoutObjects ? ` (${withoutObjects})` : ''}`);
        return 1;
      }
      // kubectl prints an empty List for -o json|yaml (something a script can parse), "No resources found" otherwise.
      if (objects.length === 0 && !structured) {
        console.error(`No resources found${flags.namespace ? ` in ${flags.namespace} namespace` : ''}${withoutObjects ? `: ${withoutObjects}` : '.'}`);
        return 0;
      }
      if (objects.length === 0 && withoutObjects) console.error(withoutObjects);
      console.log(renderObjects(resource, objects, flags.output, name !== undefined));
      return 0;
    }
    const parsed = validateTable(tableFromWire(res.table));
    if (!parsed.ok) throw new Error('the gateway returned a routing table this client cannot read');
    if (kind !== 'endpoints') {
      const view = kind as Exclude<View, 'endpoints'>;
      const table = viewOf(view, parsed.table, name);
      if (name !== undefined && isEmpty(view, table)) {
        console.error(notFound(view, name));
        return 1;
      }
      if (structured) {
        console.log(serialize(view === 'models' ? { models: table.models, rewrites: table.rewrites } : table[view], flags.output));
        return 0;
      }
      const [header, all] = rowsOf(view, table);
      // A rewrite rule that names several models is shown for the one asked for only.
      const rows = view === 'models' && name !== undefined ? all.filter((r) => r[0] === name) : all;
      console.log(formatTable(header, rows));
      return 0;
    }
    // `get endpoints NAME`: the endpoints of pool NAME, as Kubernetes names an Endpoints object after its Service.
    const pools = parsed.table.pools.filter((p) => name === undefined || p.name === name);
    if (name !== undefined && pools.length === 0) {
      console.error(notFound('pools', name));
      return 1;
    }
    const rows: string[][] = [];
    const items: Record<string, unknown>[] = [];
    const now = Date.now();
    for (const pool of pools) {
      const snap = (await endpoints.getEndpoints(wirePool(pool))).snapshot;
      for (const e of snap?.endpoints ?? []) {
        if (structured) {
          items.push(endpointItem(pool.name, e));
          continue;
        }
        const m = e.metrics;
        const age = e.scrapedAtUnixMs ? `${Math.max(0, now - e.scrapedAtUnixMs)}ms` : '-';
        const models = e.servedModels?.models.map((x) => x.id).join(',') || '-';
        rows.push([pool.name, e.id, e.ready ? 'yes' : 'no', e.engine, m ? String(m.waiting) : '-', m ? String(m.running) : '-', m ? `${(m.kvUsage * 100).toFixed(1)}%` : '-', m?.activeAdapters.join(',') || '-', age, e.lastError || '', ...(flags.output === 'wide' ? [models] : [])]);
      }
    }
    if (structured) {
      console.log(serialize(items, flags.output));
      return 0;
    }
    console.log(formatTable(['POOL', 'ENDPOINT', 'READY', 'ENGINE', 'WAITING', 'RUNNING', 'KV', 'ADAPTERS', 'SCRAPED', 'LAST ERROR', ...(flags.output === 'wide' ? ['MODELS'] : [])], rows));
    return 0;
  } catch (err) {
    console.error(`error: ${adminError(flags.server, err)}`);
    return 1;
  }
}
