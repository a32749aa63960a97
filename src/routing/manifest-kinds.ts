/**
 * The Kubernetes kinds infergate reads, per apiVersion, as valibot schemas of
 * the fields it uses. Other fields pass the schema; manifest-fields.ts says
 * which of them are unknown or deprecated (a warning on the object's status).
 */
import * as v from 'valibot';

const Str = v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'));
const Int = v.pipe(v.number('must be a number'), v.integer('must be an integer'));
const Labels = v.record(v.string(), v.string('must be a string'), 'must be a map of label names to values');

export const Metadata = v.looseObject({
  name: Str,
  namespace: v.optional(v.string()),
  creationTimestamp: v.optional(v.union([v.string(), v.date()])),
  labels: v.optional(v.record(v.string(), v.string())),
  annotations: v.optional(v.record(v.string(), v.string())),
});

const Hostname = v.pipe(
  v.string('must be a string'),
  v.regex(/^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/, 'must be a lower-case hostname, optionally starting with "*."'),
);
const Port = v.pipe(Int, v.minValue(1, 'must be 1-65535'), v.maxValue(65535, 'must be 1-65535'));
/** Gateway API Duration: 1 to 4 parts of up to 5 digits with h, m, s or ms (`1h30m`, `500ms`, `0s`). */
export const GatewayDuration = v.pipe(
  v.string('must be a duration string like "10s"'),
  v.regex(/^([0-9]{1,5}(h|m|s|ms)){1,4}$/, 'must be a Gateway API duration like 10s, 1m30s or 500ms'),
);
const Weight = v.pipe(Int, v.minValue(0, 'must not be negative'), v.maxValue(1_000_000, 'must be at most 1000000'));
const ValueMatch = v.looseObject({
  type: v.optional(v.picklist(['Exact', 'RegularExpression'], 'must be Exact or RegularExpression')),
  name: Str,
  value: v.string('must be a string'),
});
const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'DELETE', 'CONNECT', 'OPTIONS', 'TRACE', 'PATCH'] as const;

const ParentRef = v.looseObject({
  name: Str,
  namespace: v.optional(v.string()),
  group: v.optional(v.string()),
  kind: v.optional(v.string()),
  sectionName: v.optional(v.string()),
  port: v.optional(Port),
});

const HTTPRouteSpec = v.looseObject({
  parentRefs: v.optional(v.array(ParentRef, 'must be a list'), []),
  hostnames: v.optional(v.pipe(v.array(Hostname, 'must be a list of hostnames'), v.maxLength(16, 'allows at most 16 hostnames')), []),
  rules: v.optional(
    v.array(
      v.looseObject({
        name: v.optional(v.string()),
        matches: v.optional(
          v.array(
            v.looseObject({
              path: v.optional(
                v.looseObject({
                  type: v.optional(v.picklist(['Exact', 'PathPrefix'], 'must be Exact or PathPrefix (RegularExpression paths are not supported)')),
                  value: v.optional(v.pipe(v.string(), v.startsWith('/', 'must start with /'))),
                }),
              ),
              headers: v.optional(v.array(ValueMatch, 'must be a list')),
              queryParams: v.optional(v.array(ValueMatch, 'must be a list')),
              method: v.optional(v.picklist(METHODS, `must be one of ${METHODS.join(', ')}`)),
            }),
            'must be a list of matches (each item starts with "-")',
          ),
        ),
        backendRefs: v.optional(
          v.array(
            v.looseObject({
              name: Str,
              kind: v.optional(v.string()),
              group: v.optional(v.string()),
              namespace: v.optional(v.string()),
              port: v.optional(Port),
              weight: v.optional(Weight),
            }),
            'must be a list',
          ),
        ),
        filters: v.optional(v.array(v.looseObject({ type: v.optional(v.string()) }), 'must be a list')),
        timeouts: v.optional(v.looseObject({ request: v.optional(GatewayDuration), backendRequest: v.optional(GatewayDuration) })),
      }),
      'must be a list',
    ),
  ),
});

const FailureMode = v.optional(v.picklist(['FailOpen', 'FailClose'], 'must be FailOpen or FailClose'));

const PoolV1Spec = v.looseObject({
  // GIE v1 LabelSelector.MatchLabels is required with MinProperties=1: an empty one would select every pod.
  selector: v.looseObject(
    { matchLabels: v.pipe(Labels, v.check((s) => Object.keys(s).length > 0, 'needs at least one label: an empty selector would select every pod of the namespace (GIE v1 requires one)')) },
    'is required: a label selector ({matchLabels: {...}}) choosing the model-server pods',
  ),
  targetPorts: v.pipe(v.array(v.looseObject({ number: Port }), 'must be a list of {number: port}'), v.minLength(1, 'needs at least one port'), v.maxLength(8, 'allows at most 8 ports')),
  appProtocol: v.optional(v.picklist(['http', 'kubernetes.io/h2c'], 'must be http or kubernetes.io/h2c')),
  endpointPickerRef: v.optional(v.looseObject({ name: v.optional(v.string()), failureMode: FailureMode })),
});

const PoolV1Alpha2Spec = v.looseObject({
  selector: v.pipe(Labels, v.check((s) => Object.keys(s).length > 0, 'is required: a map of labels choosing the model-server pods')),
  targetPortNumber: Port,
  extensionRef: v.optional(v.looseObject({ name: v.optional(v.string()), failureMode: FailureMode })),
});

const PoolRef = v.looseObject({ name: Str, kind: v.optional(v.string()), group: v.optional(v.string()) }, 'is required: {name: <InferencePool name>}');
const LabelSelector = v.looseObject({
  matchLabels: v.optional(Labels),
  matchExpressions: v.optional(
    v.array(v.looseObject({ key: Str, operator: v.picklist(['In', 'NotIn', 'Exists', 'DoesNotExist'], 'must be In, NotIn, Exists or DoesNotExist'), values: v.optional(v.array(v.string())) })),
  ),
});
const TargetModels = v.optional(v.array(v.looseObject({ name: Str, weight: v.optional(Weight) }), 'must be a list'));

const InferenceModelSpec = v.looseObject({
  modelName: Str,
  criticality: v.optional(v.picklist(['Critical', 'Standard', 'Sheddable'], 'must be Critical, Standard or Sheddable')),
  poolRef: PoolRef,
  targetModels: TargetModels,
});

/** Both groups: llm-d.ai/v1alpha2 (poolRef, poolRefs or poolSelector) and GIE's x-k8s v1alpha2 (poolRef; older generations had criticality and targetModels). */
const InferenceObjectiveSpec = v.looseObject({
  priority: v.optional(Int),
  poolRef: v.optional(PoolRef),
  poolRefs: v.optional(v.pipe(v.array(PoolRef, 'must be a list'), v.minLength(1, 'needs at least one pool'), v.maxLength(16, 'allows at most 16 pools'))),
  poolSelector: v.optional(LabelSelector),
  criticality: v.optional(v.union([v.picklist(['Critical', 'Standard', 'Sheddable']), Int], 'must be Critical, Standard, Sheddable or an integer')),
  targetModels: TargetModels,
});

const InferenceModelRewriteSpec = v.looseObject({
  poolRef: PoolRef,
  rules: v.pipe(
    v.array(
      v.looseObject({
        matches: v.optional(
          v.array(v.looseObject({ model: v.looseObject({ type: v.optional(v.literal('Exact', 'must be Exact')), value: Str }) }), 'must be a list of {model: {value}}'),
          [],
        ),
        targets: v.pipe(v.array(v.looseObject({ modelRewrite: Str, weight: v.optional(v.pipe(Int, v.minValue(1, 'must be 1-1000000'), v.maxValue(1_000_000, 'must be 1-1000000'))) }), 'must be a list'), v.minLength(1, 'needs at least one target')),
      }),
      'must be a list',
    ),
    v.minLength(1, 'needs at least one rule'),
  ),
});

const Listener = v.looseObject({
  name: Str,
  port: v.optional(Port),
  protocol: v.optional(v.string()),
  hostname: v.optional(Hostname),
  allowedRoutes: v.optional(
    v.looseObject({
      namespaces: v.optional(v.looseObject({ from: v.optional(v.picklist(['All', 'Same', 'Selector'], 'must be All, Same or Selector')), selector: v.optional(LabelSelector) })),
      kinds: v.optional(v.array(v.looseObject({ group: v.optional(v.string()), kind: Str }))),
    }),
  ),
});

const GatewaySpec = v.looseObject({
  gatewayClassName: v.optional(v.string()),
  listeners: v.optional(v.array(Listener, 'must be a list'), []),
});

const ReferenceGrantSpec = v.looseObject({
  from: v.array(v.looseObject({ group: v.string(), kind: Str, namespace: Str }), 'must be a list'),
  to: v.array(v.looseObject({ group: v.string(), kind: Str, name: v.optional(v.string()) }), 'must be a list'),
});

const Count = v.pipe(Int, v.minValue(0, 'must not be negative'), v.maxValue(1e12, 'must be at most 1e12'));
/** infergate's own kind: a tenant's budget of tokens per minute and requests in flight (src/budgets/). */
const TokenBudgetSpec = v.looseObject({
  tenant: v.pipe(Str, v.maxLength(253, 'must be at most 253 characters')),
  tokensPerMinute: v.optional(Count),
  maxConcurrentRequests: v.optional(Count),
  defaultMaxTokens: v.optional(v.pipe(Count, v.minValue(1, 'must be at least 1'))),
});

const object = <S extends v.GenericSchema>(spec: S) => v.looseObject({ metadata: Metadata, spec: v.optional(spec) });
const objectWithSpec = <S extends v.GenericSchema>(spec: S) => v.looseObject({ metadata: Metadata, spec });

export const kinds = {
  Gateway: { versions: { 'gateway.networking.k8s.io/v1': object(GatewaySpec), 'gateway.networking.k8s.io/v1beta1': object(GatewaySpec) } },
  HTTPRoute: { versions: { 'gateway.networking.k8s.io/v1': objectWithSpec(HTTPRouteSpec), 'gateway.networking.k8s.io/v1beta1': objectWithSpec(HTTPRouteSpec) } },
  ReferenceGrant: { versions: { 'gateway.networking.k8s.io/v1beta1': objectWithSpec(ReferenceGrantSpec), 'gateway.networking.k8s.io/v1': objectWithSpec(ReferenceGrantSpec) } },
  InferencePool: {
    versions: {
      'inference.networking.k8s.io/v1': objectWithSpec(PoolV1Spec),
      'inference.networking.x-k8s.io/v1alpha2': objectWithSpec(PoolV1Alpha2Spec),
    },
  },
  InferenceModel: { versions: { 'inference.networking.x-k8s.io/v1alpha2': objectWithSpec(InferenceModelSpec) } },
  InferenceObjective: {
    versions: { 'llm-d.ai/v1alpha2': objectWithSpec(InferenceObjectiveSpec), 'inference.networking.x-k8s.io/v1alpha2': objectWithSpec(InferenceObjectiveSpec) },
  },
  InferenceModelRewrite: {
    versions: { 'llm-d.ai/v1alpha2': objectWithSpec(InferenceModelRewriteSpec), 'inference.networking.x-k8s.io/v1alpha2': objectWithSpec(InferenceModelRewriteSpec) },
  },
  TokenBudget: { versions: { 'infergate.dev/v1alpha1': objectWithSpec(TokenBudgetSpec) } },
} as const;

export type KindName = keyof typeof kinds;

type Of<S extends v.GenericSchema> = v.InferOutput<ReturnType<typeof objectWithSpec<S>>>;
export type HTTPRouteObject = Of<typeof HTTPRouteSpec>;
export type GatewayObject = v.InferOutput<ReturnType<typeof object<typeof GatewaySpec>>>;
export type ReferenceGrantObject = Of<typeof ReferenceGrantSpec>;
export type PoolV1Object = Of<typeof PoolV1Spec>;
export type PoolV1Alpha2Object = Of<typeof PoolV1Alpha2Spec>;
export type InferenceModelObject = Of<typeof InferenceModelSpec>;
export type InferenceObjectiveObject = Of<typeof InferenceObjectiveSpec>;
export type InferenceModelRewriteObject = Of<typeof InferenceModelRewriteSpec>;
export type TokenBudgetObject = Of<typeof TokenBudgetSpec>;
export type LabelSelectorValue = v.InferOutput<typeof LabelSelector>;
