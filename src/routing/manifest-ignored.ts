/**
 * Kinds a user's manifest file holds beside the routing objects — the
 * Namespaces, Deployments, Services, RBAC and CRDs of the same application —
 * which the gateway lists as ignored instead of refusing the file. Only
 * well-known API groups qualify: a kind of an unknown group may be a routing
 * object misspelled, and is still refused.
 */

/** API groups whose every kind is not a routing object (`''` is the core group: Namespace, Service, ConfigMap, …). */
const NON_ROUTING_GROUPS = new Set([
  '',
  'apps',
  'batch',
  'autoscaling',
  'policy',
  'rbac.authorization.k8s.io',
  'apiextensions.k8s.io',
  'admissionregistration.k8s.io',
  'networking.k8s.io',
  'storage.k8s.io',
  'scheduling.k8s.io',
  'coordination.k8s.io',
  'discovery.k8s.io',
  'node.k8s.io',
  'certificates.k8s.io',
  'monitoring.coreos.com',
  'cert-manager.io',
  'leaderworkerset.x-k8s.io',
  'keda.sh',
]);

/** Gateway API kinds other than the ones infergate reads (Gateway, HTTPRoute, ReferenceGrant). */
const NON_ROUTING_GATEWAY_KINDS = new Set(['GatewayClass', 'GRPCRoute', 'TLSRoute', 'TCPRoute', 'UDPRoute', 'BackendTLSPolicy', 'BackendLBPolicy', 'ListenerSet', 'XListenerSet']);

/** Why the object is ignored, or undefined when it is not a known non-routing kind. */
export function ignoredReason(kind: string, apiVersion: string): string | undefined {
  const slash = apiVersion.indexOf('/');
  const group = slash >= 0 ? apiVersion.slice(0, slash) : '';
  if (!kind || !apiVersion) return undefined;
  if (NON_ROUTING_GROUPS.has(group)) return 'not a routing object';
  if (group === 'gateway.networking.k8s.io' && NON_ROUTING_GATEWAY_KINDS.has(kind)) {
    return kind === 'GatewayClass' ? 'not a routing object (infergate is the implementation; gatewayClassName is not checked)' : `not a routing object infergate serves (it serves HTTPRoutes)`;
  }
  if (group === 'inference.networking.x-k8s.io' && kind === 'InferencePoolImport') return 'not a routing object infergate serves (multi-cluster import)';
  return undefined;
}
