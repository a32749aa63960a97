/**
 * The manifests of the h2c pool tests: an InferencePool `grpc-native` whose
 * port says `appProtocol: kubernetes.io/h2c`, and, when HTTP/1.1 ports are
 * given, a pool `plain` beside it (requests for model `plain` go there).
 */
export function h2cPoolManifests(h2cPorts: number[], httpPorts: number[] = []): string {
  const ports = (list: number[]) => `[${list.map((p) => `{ number: ${p} }`).join(', ')}]`;
  const plain = httpPorts.length > 0;
  return `apiVersion: gateway.networking.k8s.io/v1
kind: HTTPRoute
metadata: { name: models }
spec:
  rules:
${plain ? `  - matches: [{ headers: [{ name: x-gateway-model-name, value: plain }] }]
    backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: plain }]
` : ''}  - backendRefs: [{ group: inference.networking.k8s.io, kind: InferencePool, name: grpc-native }]
---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: grpc-native }
spec:
  selector: { matchLabels: { app: h2c-server } }
  targetPorts: ${ports(h2cPorts)}
  appProtocol: kubernetes.io/h2c
  endpointPickerRef: { name: unused, port: { number: 9002 } }
${plain ? `---
apiVersion: inference.networking.k8s.io/v1
kind: InferencePool
metadata: { name: plain }
spec:
  selector: { matchLabels: { app: http-server } }
  targetPorts: ${ports(httpPorts)}
  endpointPickerRef: { name: unused, port: { number: 9002 } }
` : ''}`;
}
