/**
 * `infergate apply -f manifests.yaml`: convert Kubernetes manifests into a
 * routing table, push it to a running gateway, and report per object the way
 * `kubectl apply` does. Exit 1 when anything was not accepted.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { commandFlags, FlagError, type FlagSpec } from '../../config/flags.ts';
import { environment, readFileText } from '../../runtime/node/index.ts';
import { importManifests, type ObjectStatus } from '../../routing/manifests.ts';
import { formatProblem } from '../../routing/problems.ts';
import { ObjectChange, ValidationProblemsSchema } from '../../gen/infergate/v1/routing_pb.ts';
import { tableToWire } from '../../control/table-wire.ts';
import { adminClients, adminFlags } from '../../rpc/admin-client.ts';

export const applyFlags = {
  file: { type: 'string', help: 'manifests to apply (-f)' },
  ...adminFlags,
  'dry-run': { type: 'boolean', help: 'validate on the server, change nothing' },
  'expected-version': { type: 'number', default: -1, help: 'apply only if the active version is this one (-1: any)' },
  help: { type: 'boolean', help: 'show this help' },
} satisfies FlagSpec;

const changes: Record<number, string> = {
  [ObjectChange.CREATED]: 'created',
  [ObjectChange.CONFIGURED]: 'configured',
  [ObjectChange.UNCHANGED]: 'unchanged',
  [ObjectChange.DELETED]: 'deleted',
};
const tableKind: Record<string, string> = { InferencePool: 'Pool', HTTPRoute: 'Route', InferenceObjective: 'Objective' };

/** `inferencepool.inference.networking.k8s.io/gemma3` */
export function resourceName(o: Pick<ObjectStatus, 'kind' | 'apiVersion' | 'name'>): string {
  const group = o.apiVersion.includes('/') ? o.apiVersion.split('/')[0] : '';
  return `${o.kind.toLowerCase()}${group ? `.${group}` : ''}/${o.name}`;
}

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('apply', args, applyFlags, environment(), {
    check(f) {
      if (!f.file) throw new FlagError('-f FILE is required');
    },
  });
  if (typeof flags === 'number') return flags;
  const text = await readFileText(flags.file);
  if (text === undefined) {
    console.error(`infergate apply: ${flags.file} does not exist`);
    return 1;
  }
  const imported = importManifests(text, flags.file);
  const notAccepted = (o: ObjectStatus) => o.conditions.find((c) => c.status === 'False');
  if (imported.errors.length) {
    for (const o of imported.objects) {
      const bad = notAccepted(o);
      console.log(bad ? `${resourceName(o)} not accepted: ${bad.reason}: ${bad.message}` : `${resourceName(o)} valid`);
    }
    for (const p of imported.errors) console.error(`error: ${formatProblem(p)}`);
    console.error('nothing was applied');
    return 1;
  }
  const token = flags.token || (flags['token-file'] ? (await readFileText(flags['token-file']))?.trim() : undefined);
  const { routing } = adminClients(flags.server, token);
  const dryRun = flags['dry-run'];
  let response;
  try {
    response = await routing.applyRoutingTable({
      table: tableToWire(imported.table),
      dryRun,
      expectedVersion: flags['expected-version'] >= 0 ? BigInt(flags['expected-version']) : undefined,
    });
  } catch (err) {
    const e = ConnectError.from(err);
    if (e.code === Code.InvalidArgument) {
      const problems = e.findDetails(ValidationProblemsSchema)[0]?.problems ?? [];
      console.error('error: the gateway rejected the routing table; nothing was applied');
      for (const p of problems) console.error(`  ${formatProblem(p)}`);
      if (!problems.length) console.error(`  ${e.rawMessage}`);
    } else if (e.code === Code.Unauthenticated) {
      console.error(`error: ${e.rawMessage}`);
    } else {
      console.error(`error: ${flags.server}: ${e.rawMessage} (${Code[e.code]})`);
    }
    return 1;
  }
  const byObject = new Map(response.objects.map((o) => [o.object, changes[o.change] ?? 'configured']));
  const suffix = dryRun ? ' (server dry run)' : '';
  let failed = false;
  for (const o of imported.objects) {
    const bad = notAccepted(o);
    if (bad) {
      failed = true;
      console.log(`${resourceName(o)} not accepted: ${bad.reason}: ${bad.message}`);
      continue;
    }
    const change = byObject.get(`${tableKind[o.kind] ?? o.kind}/${o.name}`) ?? 'configured';
    console.log(`${resourceName(o)} ${change}${suffix}`);
  }
  for (const [object, change] of byObject) if (change === 'deleted') console.log(`${object.toLowerCase()} deleted${suffix}`);
  for (const w of imported.warnings) console.error(`warning: ${formatProblem(w)}`);
  console.error(`routing table version ${response.version}${suffix}`);
  return failed ? 1 : 0;
}
