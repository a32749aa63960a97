/**
 * llm-d's role filters, on the pod label `llm-d.ai/role` (llm-d-router's
 * `roles.go`): `decode-filter` keeps decode-capable pods and pods without the
 * label; `prefill-filter` and `encode-filter` keep pods of their roles only
 * (an unlabelled pod is dropped). Unlike infergate's other filters, a role
 * filter is strict: when it leaves no candidate the request is unavailable
 * (503) rather than sent to a pod of the wrong role — as llm-d, where an
 * empty filter result ends the scheduling cycle.
 */
import type { Candidate, FilterPlugin } from '../types.ts';

export const ROLE_LABEL = 'llm-d.ai/role';

const ROLES = {
  'decode-filter': { keep: new Set(['decode', 'prefill-decode', 'both', 'encode-prefill-decode']), unlabelled: true },
  'prefill-filter': { keep: new Set(['prefill', 'encode-prefill', 'prefill-decode', 'both', 'encode-prefill-decode']), unlabelled: false },
  'encode-filter': { keep: new Set(['encode', 'encode-prefill', 'encode-prefill-decode']), unlabelled: false },
} as const;

export type RoleFilterType = keyof typeof ROLES;
export const ROLE_FILTER_TYPES = Object.keys(ROLES) as RoleFilterType[];

export function createRoleFilter(type: RoleFilterType, name: string = type): FilterPlugin {
  const { keep, unlabelled } = ROLES[type];
  const roles = [...keep].join(', ');
  return {
    kind: 'filter',
    type,
    name,
    strict: true,
    filter(candidates, ctx) {
      const kept: Candidate[] = [];
      for (const c of candidates) {
        const role = c.endpoint.labels[ROLE_LABEL];
        if (role === undefined ? unlabelled : keep.has(role)) kept.push(c);
        else ctx.rejected?.push({ id: c.endpoint.id, by: name, reason: role === undefined ? `no ${ROLE_LABEL} label` : `${ROLE_LABEL}=${role} is not one of ${roles}` });
      }
      return kept;
    },
  };
}
