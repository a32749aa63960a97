/**
 * The status the manifest import gives each object, shaped like the
 * Kubernetes and Gateway API statuses: conditions (type, status, CamelCase
 * reason, human message) and, for HTTPRoutes and InferencePools, one entry
 * per parent Gateway with the controller's name.
 */

export interface Condition {
  type: 'Accepted' | 'ResolvedRefs';
  status: 'True' | 'False' | 'Unknown';
  reason: string;
  message: string;
}

export interface ParentRef {
  group: string;
  kind: string;
  namespace: string;
  name: string;
  sectionName?: string;
}

export interface ParentStatus {
  parentRef: ParentRef;
  controllerName: string;
  conditions: Condition[];
}

/** The controller name infergate writes in `status.parents[].controllerName` (the Kubernetes source uses the same). */
export const CONTROLLER_NAME = 'infergate.dev/gateway-controller';

export interface ObjectStatus {
  kind: string;
  name: string;
  namespace: string;
  apiVersion: string;
  /** Position of the YAML document in the file (0-based). */
  document: number;
  conditions: Condition[];
  /** HTTPRoute: one entry per parentRef; InferencePool: one per Gateway whose routes send it traffic. */
  parents?: ParentStatus[];
  /** Set for an object that is not a routing object (Deployment, Service, …): why it is ignored. */
  ignored?: string;
  /** Unknown, deprecated or unsupported fields, each `path: message`; also in the Accepted condition's message. */
  warnings?: string[];
  /** The object as given (for `get -o yaml` and describe). */
  manifest?: Record<string, unknown>;
}

export const accepted = (message = ''): Condition => ({ type: 'Accepted', status: 'True', reason: 'Accepted', message });
export const resolved = (message = ''): Condition => ({ type: 'ResolvedRefs', status: 'True', reason: 'ResolvedRefs', message });
