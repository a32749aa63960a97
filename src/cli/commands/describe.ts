/**
 * `infergate describe KIND [NAME]`: one object (or every object of a kind)
 * as `kubectl describe` shows it — name, namespace, kind, the spec as
 * applied, the status (conditions, and per parent for routes and pools), the
 * warnings about its fields, and the events of its applies.
 */
import { stringify as toYaml } from 'yaml';
import { commandFlags, FlagError } from '../../config/flags.ts';
import { environment, readFileText } from '../../runtime/node/index.ts';
import { adminClients, adminError } from '../../rpc/admin-client.ts';
import { storedFromWire } from '../../control/manifest-wire.ts';
import type { StoredObject } from '../../routing/object-store.ts';
import { age, RESOURCES, resourceFor, specOf } from '../resources.ts';
import { formatTable, getFlags, kubectlFlags, notFound } from './get.ts';

// kubectl describe has no -o: its output is this text only (get -o yaml|json gives the object).
const { output: _output, ...describeFlags } = getFlags;

/** The `describe` text of one object; `now` for the events' ages. */
export function describeObject(o: StoredObject, now: number): string {
  const lines = [`Name:         ${o.name}`, `Namespace:    ${o.namespace}`, `API Version:  ${o.apiVersion}`, `Kind:         ${o.kind}`];
  const meta = (o.manifest?.metadata ?? {}) as { labels?: Record<string, string>; annotations?: Record<string, string> };
  lines.push(`Labels:       ${mapLines(meta.labels)}`, `Annotations:  ${mapLines(meta.annotations)}`);
  const spec = specOf(o);
  lines.push('Spec:', indent(Object.keys(spec).length ? toYaml(spec).trimEnd() : '<none>', 2));
  lines.push('Status:');
  if (o.parents) {
    lines.push('  Parents:');
    if (o.parents.length === 0) lines.push('    <none>');
    for (const p of o.parents) {
      const r = p.parentRef;
      lines.push(`    Parent Ref:       ${r.kind} ${r.namespace}/${r.name}${r.sectionName ? ` (listener ${r.sectionName})` : ''}`, `    Controller Name:  ${p.controllerName}`, '    Conditions:');
      lines.push(indent(conditionTable(p.conditions), 6));
    }
  }
  if (o.conditions.length) {
    lines.push('  Conditions:', indent(conditionTable(o.conditions), 4));
  }
  if (o.warnings?.length) lines.push('Warnings:', ...o.warnings.map((w) => `  ${w}`));
  if (o.events.length === 0) lines.push('Events:       <none>');
  else {
    lines.push('Events:');
    const rows = o.events.map((e) => [e.type, e.reason, `${age(now - e.at)}${e.count > 1 ? ` (x${e.count})` : ''}`, e.message]);
    lines.push(indent(formatTable(['Type', 'Reason', 'Age', 'Message'], [['----', '------', '----', '-------'], ...rows]), 2));
  }
  return lines.join('\n');
}

function conditionTable(conditions: StoredObject['conditions']): string {
  return formatTable(['Type', 'Status', 'Reason', 'Message'], [['----', '------', '------', '-------'], ...conditions.map((c) => [c.type, c.status, c.reason, c.message])]);
}

function mapLines(m: Record<string, string> | undefined): string {
  const entries = Object.entries(m ?? {});
  return entries.length ? entries.map(([k, v], i) => `${i ? '              ' : ''}${k}=${v}`).join('\n') : '<none>';
}

function indent(text: string, n: number): string {
  return text.split('\n').map((l) => ' '.repeat(n) + l).join('\n');
}

export async function run(args: string[]): Promise<number> {
  const names = RESOURCES.map((r) => r.plural).join('|');
  const flags = commandFlags(`describe ${names} [NAME]`, args, describeFlags, environment(), {
    translate: (a) => kubectlFlags(a, { output: false, spec: describeFlags }),
    check(f) {
      const kind = f._[0];
      if (!kind) throw new FlagError('say what to describe');
      if (!resourceFor(kind)) throw new FlagError(`cannot describe "${kind}": the gateway has ${names}`);
    },
  });
  if (typeof flags === 'number') return flags;
  const [kind, name] = flags._ as [string, string | undefined];
  const resource = resourceFor(kind)!;
  const token = flags.token || (flags['token-file'] ? (await readFileText(flags['token-file']))?.trim() : undefined);
  try {
    const res = await adminClients(flags.server, token).routing.getRoutingTable({});
    const objects = res.manifestObjects.map(storedFromWire).filter((o) => o.kind === resource.kind && (!flags.namespace || o.namespace === flags.namespace) && (!name || o.name === name || o.name.startsWith(name)));
    if (objects.length === 0) {
      const hint = res.manifestObjects.length ? '' : ' (the gateway has no Kubernetes objects: push them with infergate apply -f)';
      console.error(name ? `${notFound(resource.plural, name)}${hint}` : `No resources found${flags.namespace ? ` in ${flags.namespace} namespace` : ''}${hint || '.'}`);
      return 1;
    }
    const now = Date.now();
    console.log(objects.map((o) => describeObject(o, now)).join('\n\n\n'));
    return 0;
  } catch (err) {
    console.error(`error: ${adminError(flags.server, err)}`);
    return 1;
  }
}
