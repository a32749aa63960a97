/**
 * `infergate apply -f FILE|DIR|- [-f …]`: convert Kubernetes manifests — a user's
 * file as it is, Deployments and Services beside the routing objects — into a
 * routing table, push it with the objects to a running gateway, and report
 * per object the way `kubectl apply` does: `kind.group/name created`,
 * `configured`, `unchanged`, `deleted` (as the gateway compared them with the
 * previous apply), `ignored` for objects that are not routing objects. Exit 1
 * when anything was refused or is not accepted.
 */
import { Code, ConnectError } from '@connectrpc/connect';
import { commandFlags, FlagError, type FlagSpec } from '../../config/flags.ts';
import { environment, readFileText, readManifestSources, ManifestSourceError, type ManifestSource } from '../../runtime/node/index.ts';
import { hasRoutingObjects, importManifestFiles, type ObjectStatus } from '../../routing/manifests.ts';
import { objectName } from '../../routing/object-names.ts';
import { formatProblem } from '../../routing/problems.ts';
import { ObjectChange, ValidationProblemsSchema } from '../../gen/infergate/v1/routing_pb.ts';
import { tableToWire } from '../../control/table-wire.ts';
import { objectToWire } from '../../control/manifest-wire.ts';
import { adminClients, adminError, adminFlags } from '../../rpc/admin-client.ts';

export const applyFlags = {
  // Repeatable, as kubectl's -f: every file given is applied, as one table (a second -f adds, never replaces).
  file: { type: 'string', repeated: true, help: 'manifests to apply (-f): a file, a directory of .yaml/.yml/.json files, or - for stdin' },
  ...adminFlags,
  'dry-run': { type: 'boolean', help: 'validate on the server, change nothing' },
  'allow-empty': { type: 'boolean', help: 'apply even when the manifests hold no routing object (clears the routing table)' },
  'expected-version': { type: 'number', integer: true, min: -1, max: Number.MAX_SAFE_INTEGER, default: -1, help: 'apply only if the active version is this one (-1: any)' },
  help: { type: 'boolean', help: 'show this help' },
} satisfies FlagSpec;

const changes: Record<number, string> = {
  [ObjectChange.CREATED]: 'created',
  [ObjectChange.CONFIGURED]: 'configured',
  [ObjectChange.UNCHANGED]: 'unchanged',
  [ObjectChange.DELETED]: 'deleted',
};

/** `inferencepool.inference.networking.k8s.io/gemma3` */
export function resourceName(o: Pick<ObjectStatus, 'kind' | 'apiVersion' | 'name'>): string {
  return objectName(o);
}

const notAccepted = (o: ObjectStatus) => o.conditions.find((c) => c.status === 'False');

export async function run(args: string[]): Promise<number> {
  const flags = commandFlags('apply', args, applyFlags, environment(), {
    check(f) {
      if (f.file.length === 0) throw new FlagError('-f FILE is required (a file, a directory, or - for stdin)');
      if (f.file.filter((x) => x === '-').length > 1) throw new FlagError('-f - (standard input) can be given once');
    },
  });
  if (typeof flags === 'number') return flags;
  const sources: ManifestSource[] = [];
  try {
    // A file named twice is read once (kubectl would apply it twice; the second would change nothing).
    for (const file of new Set(flags.file)) sources.push(...(await readManifestSources(file)));
  } catch (err) {
    if (!(err instanceof ManifestSourceError)) throw err;
    console.error(`infergate apply: ${err.message}`);
    return 1;
  }
  const imported = importManifestFiles(sources);
  if (imported.errors.length) {
    for (const o of imported.objects) {
      const bad = notAccepted(o);
      console.log(o.ignored ? `${resourceName(o)} ignored: ${o.ignored}` : bad ? `${resourceName(o)} not accepted: ${bad.reason}: ${bad.message}` : `${resourceName(o)} valid`);
    }
    for (const p of imported.errors) console.error(`error: ${formatProblem(p)}`);
    console.error('nothing was applied');
    return 1;
  }
  if (!hasRoutingObjects(imported) && !flags['allow-empty']) {
    const ignored = imported.objects.filter((o) => o.ignored);
    console.error(
      `error: ${flags.file.join(', ')} ${flags.file.length > 1 ? 'hold' : 'holds'} no routing object (no HTTPRoute, InferencePool, InferenceObjective, InferenceModelRewrite or InferenceModel${ignored.length ? `; ${ignored.length} other objects are ignored` : ''}), so applying it would clear the gateway's routes; nothing was applied. Pass --allow-empty to clear them on purpose.`,
    );
    return 1;
  }
  const token = flags.token || (flags['token-file'] ? (await readFileText(flags['token-file']))?.trim() : undefined);
  const { routing } = adminClients(flags.server, token);
  const dryRun = flags['dry-run'];
  let response;
  try {
    response = await routing.applyRoutingTable({
      table: tableToWire(imported.table),
      // Ignored objects too: they tell the gateway this is a manifest apply even when nothing routes (it keeps only routing objects).
      manifestObjects: imported.objects.map(objectToWire),
      allowEmpty: flags['allow-empty'],
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
    } else {
      console.error(`error: ${adminError(flags.server, err)}`);
    }
    return 1;
  }
  const suffix = dryRun ? ' (server dry run)' : '';
  const byObject = new Map(response.objects.map((o) => [`${o.namespace}/${o.object}`, changes[o.change] ?? 'configured']));
  let failed = false;
  for (const o of imported.objects) {
    if (o.ignored) {
      console.log(`${resourceName(o)} ignored: ${o.ignored}`);
      continue;
    }
    console.log(`${resourceName(o)} ${byObject.get(`${o.namespace}/${resourceName(o)}`) ?? 'configured'}${suffix}`);
    const bad = notAccepted(o);
    if (bad) {
      failed = true;
      console.error(`warning: ${resourceName(o)} is not accepted: ${bad.reason}: ${bad.message}`);
    }
  }
  for (const o of response.objects) if (o.change === ObjectChange.DELETED) console.log(`${o.object} deleted${suffix}`);
  for (const w of imported.warnings) console.error(`warning: ${formatProblem(w)}`);
  console.error(`routing table version ${response.version}${suffix}`);
  return failed ? 1 : 0;
}
