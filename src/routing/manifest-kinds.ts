/**
 * The Kubernetes kinds infergate reads, per apiVersion, as valibot schemas of
 * the fields it uses (other fields are allowed and ignored).
 */
import * as v from 'valibot';

const Str = v.pipe(v.string('must be a string'), v.minLength(1, 'must not be empty'));
const Int = v.pipe(v.number('must be a number'), v.integer('must be an integer'));
const Labels = v.record(v.string(), v.string('must be a string'), 'must be a map of label names to values');

export const Metadata = v.looseObject({
  name: Str,
  namespace: v.optional(v.string()),
  creationTimestamp: v.optional(v.union([v.string(), v.date()])),
  annotations: v.optional(v.record(v.string(), v.string())),
});

const HTTPRouteSpec = v.looseObject({
  parentRefs: v.optional(v.array(v.looseObject({ name: Str }), 'must be a list')),
  rules: v.optional(
    v.array(
      v.looseObject({
        matches: v.optional(
          v.array(
            v.looseObject({
              path: v.optional(
                v.looseObject({
                  type: v.optional(v.picklist(['Exact', 'PathPrefix'], 'must be Exact or PathPrefix (RegularExpression paths are not supported)')),
                  value: v.optional(v.pipe(v.string(), v.startsWith('/', 'must start with /'))),
                }),
              ),
              headers: v.optional(
                v.array(
                  v.looseObject({
                    type: v.optional(v.picklist(['Exact', 'RegularExpression'], 'must be Exact or RegularExpression')),
                    name: Str,
                    value: v.string('must be a string'),
                  }),
                  'must be a list',
                ),
              ),
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
              weight: v.optional(v.pipe(Int, v.minValue(0, 'must not be negative'), v.maxValue(1_000_000, 'must be at most 1000000'))),
            }),
            'must be a list',
          ),
        ),
      }),
      'must be a list',
    ),
  ),
});

const FailureMode = v.optional(v.picklist(['FailOpen', 'FailClose'], 'must be FailOpen or FailClose'));
const Port = v.pipe(Int, v.minValue(1, 'must be 1-65535'), v.maxValue(65535, 'must be 1-65535'));

const PoolV1Spec = v.looseObject({
  selector: v.looseObject({ matchLabels: Labels }, 'is required: a label selector ({matchLabels: {...}}) choosing the model-server pods'),
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

const InferenceModelSpec = v.looseObject({
  modelName: Str,
  criticality: v.optional(v.picklist(['Critical', 'Standard', 'Sheddable'], 'must be Critical, Standard or Sheddable')),
  poolRef: PoolRef,
  targetModels: v.optional(v.array(v.looseObject({ name: Str, weight: v.optional(v.pipe(Int, v.minValue(0, 'must not be negative'), v.maxValue(1_000_000, 'must be at most 1000000'))) }), 'must be a list')),
});

const InferenceObjectiveSpec = v.looseObject({
  priority: v.optional(Int),
  poolRef: PoolRef,
});

const GatewaySpec = v.looseObject({
  gatewayClassName: v.optional(v.string()),
  listeners: v.optional(v.array(v.looseObject({ name: v.optional(v.string()), port: v.optional(Port), protocol: v.optional(v.string()) }), 'must be a list')),
});

const object = <S extends v.GenericSchema>(spec: S) => v.looseObject({ metadata: Metadata, spec: v.optional(spec) });
const objectWithSpec = <S extends v.GenericSchema>(spec: S) => v.looseObject({ metadata: Metadata, spec });

export const kinds = {
  Gateway: { versions: { 'gateway.networking.k8s.io/v1': object(GatewaySpec), 'gateway.networking.k8s.io/v1beta1': object(GatewaySpec) } },
  HTTPRoute: { versions: { 'gateway.networking.k8s.io/v1': objectWithSpec(HTTPRouteSpec), 'gateway.networking.k8s.io/v1beta1': objectWithSpec(HTTPRouteSpec) } },
  InferencePool: {
    versions: {
      'inference.networking.k8s.io/v1': objectWithSpec(PoolV1Spec),
      'inference.networking.x-k8s.io/v1alpha2': objectWithSpec(PoolV1Alpha2Spec),
    },
  },
  InferenceModel: { versions: { 'inference.networking.x-k8s.io/v1alpha2': objectWithSpec(InferenceModelSpec) } },
  InferenceObjective: { versions: { 'inference.networking.x-k8s.io/v1alpha2': objectWithSpec(InferenceObjectiveSpec) } },
} as const;

export type KindName = keyof typeof kinds;

export type HTTPRouteObject = v.InferOutput<ReturnType<typeof objectWithSpec<typeof HTTPRouteSpec>>>;
export type PoolV1Object = v.InferOutput<ReturnType<typeof objectWithSpec<typeof PoolV1Spec>>>;
export type PoolV1Alpha2Object = v.InferOutput<ReturnType<typeof objectWithSpec<typeof PoolV1Alpha2Spec>>>;
export type InferenceModelObject = v.InferOutput<ReturnType<typeof objectWithSpec<typeof InferenceModelSpec>>>;
export type InferenceObjectiveObject = v.InferOutput<ReturnType<typeof objectWithSpec<typeof InferenceObjectiveSpec>>>;
