/**
 * The routing resource types infergate watches: every (kind, group) that the
 * manifest conversion (src/routing/manifest-kinds.ts) reads, at the first
 * version it lists for that group — one watch a group, because the versions
 * of one group are one stored object served twice (watching v1 and v1beta1
 * of HTTPRoute would see each route twice). When the conversion learns a
 * kind or group, it is watched without a change here, provided its plural
 * is below.
 */
import { kinds } from '../routing/manifest-kinds.ts';
import type { ResourceType } from './port.ts';

/** The URL plural of each kind, as its CRD names it. */
const PLURALS: Record<string, string> = {
  Gateway: 'gateways',
  HTTPRoute: 'httproutes',
  InferencePool: 'inferencepools',
  InferenceModel: 'inferencemodels',
  InferenceObjective: 'inferenceobjectives',
  InferenceModelRewrite: 'inferencemodelrewrites',
  TokenBudget: 'tokenbudgets',
  // A cross-namespace backendRef needs one in the target namespace (Gateway API ReferenceGrant); the
  // conversion reads v1beta1 first, the version every Gateway API release since v0.6 serves.
  ReferenceGrant: 'referencegrants',
};

/**
 * Kinds read and never written: a Gateway is its own controller's to program (infergate only reads
 * its class and listeners), and a ReferenceGrant has no status in the Gateway API.
 */
export const READ_ONLY_KINDS: ReadonlySet<string> = new Set(['Gateway', 'ReferenceGrant']);

export function routingResourceTypes(): ResourceType[] {
  const out: ResourceType[] = [];
  const seen = new Set<string>();
  for (const [kind, { versions }] of Object.entries(kinds)) {
    const plural = PLURALS[kind];
    if (!plural) continue;
    for (const apiVersion of Object.keys(versions)) {
      const [group, version] = apiVersion.split('/') as [string, string];
      if (seen.has(`${kind}/${group}`)) continue;
      seen.add(`${kind}/${group}`);
      out.push({ group, version, plural, kind });
    }
  }
  return out;
}

/** The InferencePool types (each group's first version): the pods a pool selects are found through them. */
export function poolResourceTypes(): ResourceType[] {
  return routingResourceTypes().filter((t) => t.kind === 'InferencePool');
}

export const GATEWAY_GROUP = 'gateway.networking.k8s.io';
