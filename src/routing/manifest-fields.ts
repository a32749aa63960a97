/**
 * Every field the published APIs define for the routing kinds, so that a
 * field infergate does not know — a typo, a field of another version — or
 * one that is deprecated or not supported is a warning on the object's status
 * instead of being dropped in silence (what a Kubernetes API server would do
 * with an unknown field). Field names from the APIs' Go types (sources in
 * docs/compatibility-sources.md).
 */

/** `true`: any value; `'map'`: any keys (labels); `[node]`: a list of node; an object: its fields; `{ note }`: warn with this note. */
type Field = true | 'map' | Note | [Field] | { [name: string]: Field };
interface Note {
  note: string;
}

const note = (text: string): Note => ({ note: text });
const isNote = (f: Field): f is Note => typeof f === 'object' && !Array.isArray(f) && typeof (f as Note).note === 'string' && Object.keys(f).length === 1;

const poolRef = { group: true, kind: true, name: true } as const;
const labelSelector = { matchLabels: 'map', matchExpressions: true } as const;
const valueMatch = [{ type: true, name: true, value: true }] as [Field];

const httpRoute: Field = {
  parentRefs: [{ group: true, kind: true, namespace: true, name: true, sectionName: true, port: true }],
  hostnames: true,
  rules: [
    {
      name: true,
      matches: [{ path: { type: true, value: true }, headers: valueMatch, queryParams: valueMatch, method: true }],
      filters: true,
      backendRefs: [{ group: true, kind: true, name: true, namespace: true, port: true, weight: true, filters: note('backendRef filters are not supported by infergate: ignored') }],
      timeouts: { request: true, backendRequest: note('is not supported by infergate (timeouts.request bounds the whole wait for the answer head): ignored') },
      retry: note('is not supported by infergate (it retries a refused connection on another endpoint on its own): ignored'),
      sessionPersistence: note('is not supported by infergate: ignored'),
    },
  ],
};

const gateway: Field = {
  gatewayClassName: true,
  listeners: [
    {
      name: true,
      hostname: true,
      port: true,
      protocol: true,
      tls: true,
      allowedRoutes: { namespaces: { from: true, selector: labelSelector }, kinds: [{ group: true, kind: true }] },
    },
  ],
  addresses: true,
  infrastructure: true,
  backendTLS: true,
  allowedListeners: true,
};

const objectiveCommon = { priority: true, poolRef, poolRefs: [poolRef] as [Field], poolSelector: labelSelector } as const;

/** Spec fields per kind and apiVersion. */
const SPECS: Record<string, Record<string, Field>> = {
  InferencePool: {
    'inference.networking.k8s.io/v1': {
      selector: { matchLabels: 'map' },
      targetPorts: [{ number: true }],
      appProtocol: true,
      endpointPickerRef: {
        group: true,
        kind: true,
        name: true,
        port: { number: true },
        failureMode: true,
      },
    },
    'inference.networking.x-k8s.io/v1alpha2': {
      selector: 'map',
      targetPortNumber: true,
      extensionRef: { group: true, kind: true, name: true, portNumber: true, failureMode: true },
    },
  },
  HTTPRoute: { 'gateway.networking.k8s.io/v1': httpRoute, 'gateway.networking.k8s.io/v1beta1': httpRoute },
  Gateway: { 'gateway.networking.k8s.io/v1': gateway, 'gateway.networking.k8s.io/v1beta1': gateway },
  ReferenceGrant: {
    'gateway.networking.k8s.io/v1beta1': { from: [{ group: true, kind: true, namespace: true }], to: [{ group: true, kind: true, name: true }] },
    'gateway.networking.k8s.io/v1': { from: [{ group: true, kind: true, namespace: true }], to: [{ group: true, kind: true, name: true }] },
  },
  InferenceModel: {
    'inference.networking.x-k8s.io/v1alpha2': { modelName: true, criticality: true, poolRef, targetModels: [{ name: true, weight: true }] },
  },
  InferenceObjective: {
    'llm-d.ai/v1alpha2': {
      ...objectiveCommon,
      // criticality: read and mapped to priority with a warning (manifest-convert.ts).
      criticality: true,
      targetModels: note('is not a field of InferenceObjective (llm-d.ai/v1alpha2): weighted target models are InferenceModelRewrite\'s (spec.rules[].targets): ignored'),
    },
    'inference.networking.x-k8s.io/v1alpha2': {
      ...objectiveCommon,
      criticality: true,
      targetModels: note('is deprecated (an earlier InferenceObjective): weighted target models are InferenceModelRewrite\'s (spec.rules[].targets): ignored'),
    },
  },
  InferenceModelRewrite: {
    'llm-d.ai/v1alpha2': { poolRef, rules: [{ matches: [{ model: { type: true, value: true } }], targets: [{ modelRewrite: true, weight: true }] }] },
    'inference.networking.x-k8s.io/v1alpha2': { poolRef, rules: [{ matches: [{ model: { type: true, value: true } }], targets: [{ modelRewrite: true, weight: true }] }] },
  },
};

const TOP = new Set(['apiVersion', 'kind', 'metadata', 'spec', 'status']);
const METADATA = new Set([
  'name', 'namespace', 'labels', 'annotations', 'creationTimestamp', 'generation', 'uid', 'resourceVersion', 'ownerReferences',
  'finalizers', 'managedFields', 'generateName', 'deletionTimestamp', 'deletionGracePeriodSeconds', 'selfLink',
]);

export interface FieldWarning {
  path: string;
  message: string;
}

/** Unknown, deprecated and unsupported fields of a routing object (its kind and apiVersion must be known). */
export function fieldWarnings(kind: string, apiVersion: string, value: Record<string, unknown>): FieldWarning[] {
  const out: FieldWarning[] = [];
  for (const key of Object.keys(value)) if (!TOP.has(key)) out.push({ path: key, message: unknown(kind, apiVersion) });
  const meta = value.metadata;
  if (isRecord(meta)) for (const key of Object.keys(meta)) if (!METADATA.has(key)) out.push({ path: `metadata.${key}`, message: unknown(kind, apiVersion) });
  const spec = SPECS[kind]?.[apiVersion];
  if (spec && isRecord(value.spec)) walk(value.spec, spec, 'spec', kind, apiVersion, out);
  return out;
}

function walk(value: unknown, field: Field, path: string, kind: string, apiVersion: string, out: FieldWarning[]): void {
  if (field === true || field === 'map') return;
  if (isNote(field)) {
    out.push({ path, message: field.note });
    return;
  }
  if (Array.isArray(field)) {
    if (Array.isArray(value)) value.forEach((item, i) => walk(item, field[0], `${path}[${i}]`, kind, apiVersion, out));
    return;
  }
  if (!isRecord(value)) return;
  for (const [key, v] of Object.entries(value)) {
    const sub = field[key];
    if (sub === undefined) out.push({ path: `${path}.${key}`, message: unknown(kind, apiVersion) });
    else walk(v, sub, `${path}.${key}`, kind, apiVersion, out);
  }
}

function unknown(kind: string, apiVersion: string): string {
  return `is not a field of ${kind} (${apiVersion}): ignored`;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}
