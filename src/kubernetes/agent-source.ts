/**
 * The embedded agent fed by Kubernetes discovery: the gateway scrapes the
 * pools' pods itself, as with an endpoints file, but learns them from the API.
 * Readiness says what a probe needs: not ready only until the first list of
 * pods and pools arrived. A watch failing later keeps the last known pods
 * (and is logged), so an API server hiccup does not take every replica out
 * of its Service at once.
 */
import type { MetricsAgent } from '../agent/agent.ts';
import { EmbeddedAgentSource } from '../agent/embedded-source.ts';
import type { KubernetesPodDiscovery } from './pod-discovery.ts';

export class KubernetesAgentSource extends EmbeddedAgentSource {
  constructor(
    agent: MetricsAgent,
    readonly kubernetes: KubernetesPodDiscovery,
    onClose: () => Promise<void> | void = () => {},
  ) {
    super(agent, kubernetes, onClose);
  }

  override notReadyReason(): string | undefined {
    if (!this.kubernetes.listed) return `Kubernetes: ${this.kubernetes.problem ?? 'waiting for the first list of pods and InferencePools'}`;
    return this.agent.endpointCount ? undefined : 'no ready pod is selected by an InferencePool (Kubernetes)';
  }
}
